import pytest
from django.utils import timezone

from segments.evaluation import segment_evaluate
from segments.models import Segment
from segments.services import segment_create

pytestmark = pytest.mark.django_db


def evaluated():
    segment = segment_create(
        name="France", conditions={"type": "field", "field": "country", "op": "eq", "value": "FR"}
    )
    segment_evaluate(segment=segment, now=timezone.now())
    return segment


def test_admin_saves_segments_through_validation(admin_client):
    response = admin_client.post(
        "/admin/segments/segment/add/",
        {
            "name": "Broken",
            "description": "",
            "conditions": '{"type": "tag", "op": "owns", "tag": "x"}',
            "refresh_interval": 300,
        },
    )

    assert response.status_code == 200  # the form again, with the error
    assert "conditions.op" in response.content.decode()
    assert not Segment.objects.exists()


def test_admin_creates_a_segment_with_derived_dependencies(admin_client):
    response = admin_client.post(
        "/admin/segments/segment/add/",
        {
            "name": "France",
            "description": "",
            "conditions": '{"type": "field", "field": "country", "op": "eq", "value": "FR"}',
            "refresh_interval": 300,
        },
    )

    assert response.status_code == 302
    assert Segment.objects.get().dependency_keys == ["field:country"]


@pytest.mark.parametrize(
    "url",
    [
        "/admin/segments/segment/",
        "/admin/segments/segmentmembership/",
        "/admin/segments/segmenttransition/",
        "/admin/segments/segmentdailystats/",
        "/admin/segments/pendingcontactchange/",
    ],
)
def test_admin_lists_segment_rows(admin_client, url):
    evaluated()

    assert admin_client.get(url).status_code == 200


def failed_segment() -> Segment:
    segment = evaluated()
    Segment.objects.filter(pk=segment.pk).update(
        failed_at=timezone.now(), failure_reason="conditions.field: Unknown field 'plan'."
    )
    return segment


def test_admin_lists_failed_segments_with_their_failure(admin_client):
    failed_segment()

    page = admin_client.get("/admin/segments/segment/?failed_at__isnull=False").content.decode()

    assert "France" in page
    assert "column-failed_at" in page


def test_admin_segment_page_shows_the_failure_reason(admin_client):
    segment = failed_segment()

    page = admin_client.get(f"/admin/segments/segment/{segment.pk}/change/").content.decode()

    assert "Unknown field &#x27;plan&#x27;." in page


def test_admin_segment_page_summarises_the_condition_language(admin_client):
    segment = evaluated()

    page = admin_client.get(f"/admin/segments/segment/{segment.pk}/change/").content.decode()

    assert "<code>tag</code>: has, has_not" in page
    assert "docs/segments.md" in page
    assert "design" not in page.lower()


def test_admin_deletes_segments_through_the_service(admin_client):
    segment = evaluated()

    response = admin_client.post(f"/admin/segments/segment/{segment.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not Segment.objects.exists()


def test_admin_cannot_delete_a_segment_another_one_reads(admin_client):
    base = evaluated()
    segment_create(name="Reader", conditions={"type": "segment", "op": "in", "segment": base.pk})

    response = admin_client.post(f"/admin/segments/segment/{base.pk}/delete/", {"post": "yes"})

    assert response.status_code == 403
    assert Segment.objects.filter(pk=base.pk).exists()
