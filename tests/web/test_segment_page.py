"""The segment page: conditions in words, size over time, keyset-paged members, explain with
✓ / ✗ and actual values, evaluate now and delete with its guard."""

import datetime as dt
import re

import pytest
from django.utils import timezone

from segments.models import Segment, SegmentMembership
from segments.services import segment_create
from tests.factories import (
    ContactFactory,
    CustomFieldFactory,
    EventFactory,
    SegmentDailyStatsFactory,
    SegmentFactory,
    SegmentMembershipFactory,
)
from web.views.segment_pages import MEMBERS_PAGE_SIZE

pytestmark = pytest.mark.django_db

CONDITIONS = {
    "all": [
        {"type": "field", "field": "plan", "op": "in", "value": ["pro", "team"]},
        {
            "any": [
                {
                    "type": "event",
                    "event": "login",
                    "op": "performed",
                    "count": {"op": "gte", "value": 2},
                    "within": {"days": 30},
                },
                {"type": "tag", "op": "has", "tag": "vip"},
            ]
        },
    ]
}


@pytest.fixture
def pro_segment():
    CustomFieldFactory(key="plan", label="Plan", type="choice", choices=["free", "pro", "team"])
    return SegmentFactory(name="Active pros", conditions=CONDITIONS)


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_conditions_read_in_words(marketer_client, pro_segment):
    page = marketer_client.get(f"/segments/{pro_segment.pk}/").content.decode()

    text = _text(page)
    assert "Plan is one of pro, team" in text
    assert "performed login at least twice in the last 30 days" in text
    assert "Any of these" in text
    assert 'id="conditions-summary"' in page


def test_size_over_time_chart_fills_days_without_evaluation(marketer_client, pro_segment):
    today = timezone.now().date()
    SegmentDailyStatsFactory(
        segment=pro_segment, day=today - dt.timedelta(days=3), size=10, entered=10
    )
    SegmentDailyStatsFactory(segment=pro_segment, day=today, size=8, entered=1, left=3)

    response = marketer_client.get(f"/segments/{pro_segment.pk}/")

    days = response.context["days"]
    assert [size for _, size, _, _ in days] == [10, 10, 10, 8]
    assert (response.context["entered_total"], response.context["left_total"]) == (11, 3)
    page = response.content.decode()
    assert page.count("<svg") >= 2 and 'id="size-chart"' in page and 'id="moves-chart"' in page
    # pygal's default tooltip script (from kozea.github.io) is switched off: nothing external.
    assert "kozea.github.io" not in page
    assert not re.search(r"<script[^>]*(href|src)=", response.context["size_chart"])


def test_no_history_yet(marketer_client, pro_segment):
    page = marketer_client.get(f"/segments/{pro_segment.pk}/").content.decode()

    assert 'id="no-history"' in page


def test_members_are_keyset_paged_and_linked(marketer_client, django_assert_max_num_queries):
    segment = SegmentFactory(last_evaluated_at=timezone.now())
    contacts = ContactFactory.create_batch(MEMBERS_PAGE_SIZE + 3)
    for contact in contacts:
        SegmentMembershipFactory(segment=segment, contact=contact)
    outsider = ContactFactory()

    first = marketer_client.get(f"/segments/{segment.pk}/")
    shown = [c.pk for c in first.context["members"].items]
    assert shown == [c.pk for c in contacts[:MEMBERS_PAGE_SIZE]]
    assert f'href="/contacts/{contacts[0].pk}/"' in first.content.decode()
    cursor = first.context["members"].next_after

    with django_assert_max_num_queries(12):
        second = marketer_client.get(f"/segments/{segment.pk}/?after={cursor}")

    rest = [c.pk for c in second.context["members"].items]
    assert rest == [c.pk for c in contacts[MEMBERS_PAGE_SIZE:]]
    assert outsider.pk not in shown + rest
    assert second.context["members"].next_after is None
    back = marketer_client.get(
        f"/segments/{segment.pk}/?before={second.context['members'].previous_before}"
    )
    assert [c.pk for c in back.context["members"].items] == shown
    assert back.context["members"].previous_before is None


def test_members_page_leaves_out_contacts_that_left(marketer_client):
    segment = SegmentFactory(last_evaluated_at=timezone.now())
    stayed, left = ContactFactory(), ContactFactory()
    SegmentMembershipFactory(segment=segment, contact=stayed)
    SegmentMembershipFactory(segment=segment, contact=left, left_at=timezone.now())

    response = marketer_client.get(f"/segments/{segment.pk}/")

    assert [c.pk for c in response.context["members"].items] == [stayed.pk]


def test_pages_still_open_when_a_field_the_segment_reads_is_gone(marketer_client):
    segment = SegmentFactory(
        name="Orphan",
        conditions={
            "all": [
                {"type": "field", "field": "gone", "op": "within_next", "value": {"days": 3}},
                {"type": "segment", "op": "in", "segment": 999_999},
            ]
        },
    )

    detail = marketer_client.get(f"/segments/{segment.pk}/")
    listing = marketer_client.get("/segments/")

    assert detail.status_code == listing.status_code == 200
    assert "is in segment #999999" in detail.content.decode()


def test_unknown_segment_is_404(marketer_client):
    assert marketer_client.get("/segments/999999/").status_code == 404


def test_edit_button_links_to_the_builder_when_its_route_exists(marketer_client, pro_segment):
    from django.urls import NoReverseMatch, reverse

    try:
        edit = reverse("segment-edit", args=[pro_segment.pk])
    except NoReverseMatch:
        edit = None
    page = marketer_client.get(f"/segments/{pro_segment.pk}/").content.decode()

    if edit:
        assert f'href="{edit}"' in page
    assert f'href="/segments/{pro_segment.pk}/export.csv"' in page


# --- explain -------------------------------------------------------------------------------


@pytest.fixture
def member_and_outsider(pro_segment):
    now = timezone.now()
    member = ContactFactory(email="ann@example.com", fields={"plan": "pro"})
    for hours in (1, 2, 3):
        EventFactory(contact=member, name="login", occurred_at=now - dt.timedelta(hours=hours))
    SegmentMembershipFactory(segment=pro_segment, contact=member)
    outsider = ContactFactory(email="bob@example.com", fields={"plan": "free"})
    EventFactory(contact=outsider, name="login", occurred_at=now - dt.timedelta(hours=1))
    return member, outsider


def _lines(html: str) -> list[tuple[str, str]]:
    """(result, text) of each explained line."""
    found = re.findall(r'data-result="(true|false)">(.*?)</li>', html, flags=re.S)
    return [(result, _text(body).strip()) for result, body in found]


def test_explain_a_member_shows_true_with_actual_values(
    marketer_client, pro_segment, member_and_outsider
):
    member, _ = member_and_outsider

    response = marketer_client.get(
        f"/segments/{pro_segment.pk}/explain/", {"contact": "ann@example.com"}
    )

    html = response.content.decode()
    assert "matches now" in html and "member at the last evaluation" in html
    lines = _lines(html)
    assert ("true", "✓ true: All of these") in lines
    assert ("true", "✓ true: Plan is one of pro, team — value: pro") in lines
    assert any(
        result == "true"
        and "performed login at least twice" in text
        and "3 matching events" in text
        for result, text in lines
    )
    assert ("false", "✗ false: has tag vip — no tags") in lines


def test_explain_an_outsider_shows_which_conditions_fail(
    marketer_client, pro_segment, member_and_outsider
):
    _, outsider = member_and_outsider

    response = marketer_client.get(
        f"/segments/{pro_segment.pk}/explain/", {"contact": str(outsider.pk)}
    )

    html = response.content.decode()
    assert "does not match now" in html and "not a member at the last evaluation" in html
    lines = _lines(html)
    assert ("false", "✗ false: All of these") in lines
    assert ("false", "✗ false: Plan is one of pro, team — value: free") in lines
    assert any(result == "false" and "1 matching event" in text for result, text in lines)


def test_explain_by_part_of_an_email_offers_the_matches(
    marketer_client, pro_segment, member_and_outsider
):
    response = marketer_client.get(
        f"/segments/{pro_segment.pk}/explain/", {"contact": "example.com"}
    )

    html = response.content.decode()
    assert 'id="explain-choices"' in html
    assert "ann@example.com" in html and "bob@example.com" in html


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "Type a contact"), ("nobody@nowhere.test", "No contact matches"), ("99999999", "No")],
)
def test_explain_without_a_contact_says_so(marketer_client, pro_segment, text, message):
    response = marketer_client.get(f"/segments/{pro_segment.pk}/explain/", {"contact": text})

    assert response.status_code == 200
    assert message in response.content.decode()


def test_explain_a_segment_whose_conditions_no_longer_hold(marketer_client):
    segment = SegmentFactory(
        conditions={"type": "field", "field": "deleted_field", "op": "eq", "value": "x"}
    )
    contact = ContactFactory()

    response = marketer_client.get(f"/segments/{segment.pk}/explain/", {"contact": contact.pk})

    assert response.status_code == 200
    assert "cannot be evaluated" in response.content.decode()


# --- evaluate and delete -----------------------------------------------------------------------


def test_evaluate_now_runs_the_evaluation_and_reports_it(marketer_client):
    ContactFactory(country="FR")
    ContactFactory(country="DE")
    segment = SegmentFactory(
        conditions={"type": "field", "field": "country", "op": "eq", "value": "FR"}
    )

    response = marketer_client.post(f"/segments/{segment.pk}/evaluate/", follow=True)

    segment.refresh_from_db()
    assert segment.size == 1 and segment.last_evaluated_at is not None
    assert "Evaluated: 1 contacts (1 entered, 0 left)." in response.content.decode()
    assert marketer_client.get(f"/segments/{segment.pk}/evaluate/").status_code == 405


def test_delete_asks_then_deletes(marketer_client):
    segment = SegmentFactory(name="Old")

    confirm = marketer_client.get(f"/segments/{segment.pk}/delete/")
    assert "Delete segment" in confirm.content.decode()
    response = marketer_client.post(f"/segments/{segment.pk}/delete/", follow=True)

    assert not Segment.objects.filter(pk=segment.pk).exists()
    assert "Segment “Old” deleted." in response.content.decode()


def test_delete_is_refused_while_another_segment_uses_it(marketer_client):
    base = segment_create(name="Base", conditions={"all": []})
    segment_create(name="Reader", conditions={"type": "segment", "op": "in", "segment": base.pk})

    confirm = marketer_client.get(f"/segments/{base.pk}/delete/").content.decode()
    response = marketer_client.post(f"/segments/{base.pk}/delete/")

    assert 'id="segment-readers"' in confirm and "Reader" in confirm
    assert response.status_code == 409
    assert "Not deleted." in response.content.decode()
    assert Segment.objects.filter(pk=base.pk).exists()


def test_pages_need_the_marketer_role(client, pro_segment):
    for url in (f"/segments/{pro_segment.pk}/", f"/segments/{pro_segment.pk}/export.csv"):
        assert client.get(url).status_code == 302
    assert SegmentMembership.objects.count() == 0
