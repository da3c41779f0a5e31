import datetime as dt

import pytest
from django.utils import timezone

from tests.factories import (
    ContactFactory,
    ContactSubscriptionFactory,
    ContactTagFactory,
    CustomFieldFactory,
    EventFactory,
    SegmentFactory,
    SegmentMembershipFactory,
    SubscriptionTopicFactory,
    TagFactory,
)
from web.selectors import TIMELINE_PAGE_SIZE

pytestmark = pytest.mark.django_db


@pytest.fixture
def jane():
    CustomFieldFactory(key="plan", label="Plan", type="choice", choices=["free", "pro"])
    CustomFieldFactory(key="trial_ends", label="Trial ends", type="date")
    contact = ContactFactory(
        email="jane@example.com", lead_score=42, fields={"plan": "pro", "trial_ends": "2026-12-01"}
    )
    ContactTagFactory(contact=contact, tag=TagFactory(name="beta"))
    return contact


def test_contact_page_shows_fields_tags_score_segments_and_subscriptions(marketer_client, jane):
    segment = SegmentFactory(name="Pro users")
    SegmentMembershipFactory(
        segment=segment, contact=jane, entered_at=dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.UTC)
    )
    SegmentMembershipFactory(
        contact=jane, entered_at=timezone.now(), left_at=timezone.now()
    )  # a past stay: not shown
    news = SubscriptionTopicFactory(key="news", name="Newsletter", default_opt_in=True)
    ContactSubscriptionFactory(contact=jane, topic=news, status="unsubscribed")
    SubscriptionTopicFactory(key="product", name="Product updates", default_opt_in=True)

    response = marketer_client.get(f"/contacts/{jane.pk}/")

    page = response.content.decode()
    assert response.status_code == 200
    assert 'data-field="plan">pro<' in page
    assert 'data-field="trial_ends">2026-12-01<' in page
    assert ">beta</a>" in page
    assert 'data-stat="lead-score">42<' in page
    assert [m.segment.name for m in response.context["memberships"]] == ["Pro users"]
    assert "since 2026-11-20 09:30" in page
    statuses = {t.topic.key: (t.subscribed, t.by_default) for t in response.context["topics"]}
    assert statuses == {"news": (False, False), "product": (True, True)}


def test_contact_page_queries_are_pinned(marketer_client, jane, django_assert_num_queries):
    for _ in range(3):
        SegmentMembershipFactory(contact=jane)
        SubscriptionTopicFactory()
    EventFactory.create_batch(30, contact=jane)

    # session, user, roles, contact, tags, definitions, segments, topics, timeline
    with django_assert_num_queries(9):
        response = marketer_client.get(f"/contacts/{jane.pk}/")

    assert response.status_code == 200


def test_timeline_is_newest_first_and_loads_more_by_cursor(marketer_client, jane):
    start = timezone.now() - dt.timedelta(days=10)
    events = [
        EventFactory(contact=jane, name=f"step-{n}", occurred_at=start + dt.timedelta(hours=n))
        for n in range(TIMELINE_PAGE_SIZE + 5)
    ]
    newest_first = [event.pk for event in reversed(events)]

    first = marketer_client.get(f"/contacts/{jane.pk}/").context["timeline"]
    more = marketer_client.get(
        f"/contacts/{jane.pk}/timeline/", {"before": first.cursor}, HTTP_HX_REQUEST="true"
    )

    assert [e.pk for e in first.events] == newest_first[:TIMELINE_PAGE_SIZE]
    assert [e.pk for e in more.context["timeline"].events] == newest_first[TIMELINE_PAGE_SIZE:]
    assert more.context["timeline"].cursor is None
    assert "<html" not in more.content.decode()  # a fragment for HTMX to append
    assert 'id="timeline-more"' in marketer_client.get(f"/contacts/{jane.pk}/").content.decode()


def test_events_at_the_same_instant_are_neither_lost_nor_repeated_across_pages(
    marketer_client, jane
):
    instant = timezone.now() - dt.timedelta(hours=1)
    events = EventFactory.create_batch(TIMELINE_PAGE_SIZE + 2, contact=jane, occurred_at=instant)

    first = marketer_client.get(f"/contacts/{jane.pk}/").context["timeline"]
    more = marketer_client.get(f"/contacts/{jane.pk}/timeline/", {"before": first.cursor})

    seen = [e.pk for e in first.events] + [e.pk for e in more.context["timeline"].events]
    assert sorted(seen) == sorted(e.pk for e in events)
    assert len(seen) == len(set(seen))


def test_a_malformed_timeline_cursor_is_a_404(marketer_client, jane):
    response = marketer_client.get(f"/contacts/{jane.pk}/timeline/", {"before": "yesterday"})

    assert response.status_code == 404


def test_an_unknown_contact_is_a_404(marketer_client):
    assert marketer_client.get("/contacts/999999/").status_code == 404
