"""The segment list (sizes, conditions in words, compare checkboxes) and the comparison page,
which answers bad ids with a message, never a 500."""

import re

import pytest
from django.utils import timezone

from tests.factories import (
    ContactFactory,
    EventFactory,
    SegmentFactory,
    SegmentMembershipFactory,
)

pytestmark = pytest.mark.django_db


def test_segment_list_shows_no_size_before_the_first_evaluation(marketer_client):
    SegmentFactory(name="Fresh", size=0, last_evaluated_at=None)
    SegmentFactory(name="Counted", size=1234, last_evaluated_at=timezone.now())

    page = marketer_client.get("/segments/").content.decode()

    assert "1,234" in page
    assert "not yet (waiting for the worker)" in page


def test_segment_list_links_pages_and_describes_conditions(marketer_client):
    referenced = SegmentFactory(name="Buyers")
    segment = SegmentFactory(
        name="Buyers in France",
        conditions={
            "all": [
                {"type": "segment", "op": "in", "segment": referenced.pk},
                {"type": "field", "field": "country", "op": "eq", "value": "FR"},
            ]
        },
    )

    page = marketer_client.get("/segments/").content.decode()

    assert f'href="/segments/{segment.pk}/"' in page
    assert "all of: is in segment “Buyers”; Country is FR" in page
    assert f'name="ids" value="{segment.pk}"' in page
    assert 'action="/segments/compare/"' in page


def test_segment_list_reads_names_once_for_all_segments(
    marketer_client, django_assert_max_num_queries
):
    base = SegmentFactory()
    for _ in range(15):
        SegmentFactory(conditions={"type": "segment", "op": "in", "segment": base.pk})

    with django_assert_max_num_queries(6):
        response = marketer_client.get("/segments/")

    assert response.status_code == 200


def _segments_with_members():
    first, second = SegmentFactory(name="Alpha"), SegmentFactory(name="Beta")
    contacts = ContactFactory.create_batch(4)
    for contact in contacts[:3]:
        SegmentMembershipFactory(segment=first, contact=contact)
    for contact in contacts[2:]:
        SegmentMembershipFactory(segment=second, contact=contact)
    EventFactory(contact=contacts[0], name="email.opened", occurred_at=timezone.now())
    EventFactory(contact=contacts[3], name="login", occurred_at=timezone.now())
    EventFactory(contact=contacts[3], name="login", occurred_at=timezone.now())
    return first, second


def _cell(html: str, row: str, figure: str) -> str:
    match = re.search(
        rf'data-(?:segment|pair)="{row}".*?data-figure="{figure}">(.*?)</td>', html, re.S
    )
    assert match, (row, figure)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(1))).strip()


def test_compare_shows_sizes_overlap_activity_and_charts(marketer_client):
    first, second = _segments_with_members()

    response = marketer_client.get(
        "/segments/compare/", {"ids": f"{first.pk},{second.pk}", "event": "login"}
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert _cell(html, first.pk, "size") == "3"
    assert _cell(html, first.pk, "opened") == "33.3% (1)"
    assert _cell(html, second.pk, "opened") == "0.0% (0)"
    assert _cell(html, second.pk, "events-per-member") == "1.00 (2)"
    assert _cell(html, f"{first.pk}-{second.pk}", "both") == "1"
    assert _cell(html, f"{first.pk}-{second.pk}", "of-first").startswith("33.3%")
    assert _cell(html, f"{first.pk}-{second.pk}", "of-second").startswith("50.0%")
    assert 'id="activity-chart"' in html and 'id="event-chart"' in html
    assert '<option value="login" selected>' in html


def test_checkboxes_redirect_to_the_canonical_address(marketer_client):
    first, second = _segments_with_members()

    response = marketer_client.get(f"/segments/compare/?ids={first.pk}&ids={second.pk}")

    assert response.status_code == 302
    assert response["Location"] == f"/segments/compare/?ids={first.pk}%2C{second.pk}"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "Pick two or more segments"),
        ("?ids=", "Pick two or more segments"),
        ("?ids=1,abc", "is not"),
        ("?ids={a}", "at least two different"),
        ("?ids={a},999999", "No segment #999999"),
        ("?ids=1,2,3,4,5,6,7", "At most 6"),
    ],
)
def test_bad_compare_ids_get_a_clear_message(marketer_client, query, message):
    segment = SegmentFactory()

    response = marketer_client.get("/segments/compare/" + query.format(a=segment.pk))

    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="compare-error"' in html and message in html
