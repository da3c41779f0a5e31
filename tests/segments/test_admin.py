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
