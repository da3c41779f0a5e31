import pytest

from tests.factories import (
    ContactFactory,
    ContactTagFactory,
    SegmentFactory,
    SegmentMembershipFactory,
    TagFactory,
)
from web.views.contacts import PAGE_SIZE

pytestmark = pytest.mark.django_db


def _emails(response) -> list[str]:
    return [contact.email for contact in response.context["page"].items]


def test_search_finds_contacts_by_part_of_email_name_or_exact_external_id(marketer_client):
    # Last names fixed: a random one (Roberts) would match the search for "rober".
    ContactFactory(email="jane@example.com", first_name="Jane", last_name="Doe")
    ContactFactory(
        email="bob@example.com", first_name="Robert", last_name="Lee", external_id="crm-77"
    )
    ContactFactory(email="ann@other.org", first_name="Ann", last_name="Park")

    assert _emails(marketer_client.get("/contacts/?q=example")) == [
        "jane@example.com",
        "bob@example.com",
    ]
    assert _emails(marketer_client.get("/contacts/?q=rober")) == ["bob@example.com"]
    assert _emails(marketer_client.get("/contacts/?q=crm-77")) == ["bob@example.com"]


def test_filter_by_tag_and_segment(marketer_client):
    vip = TagFactory(name="vip")
    tagged = ContactFactory(email="tagged@example.com")
    ContactTagFactory(contact=tagged, tag=vip)
    member = ContactFactory(email="member@example.com")
    ContactFactory(email="neither@example.com")
    segment = SegmentFactory()
    SegmentMembershipFactory(segment=segment, contact=member)

    assert _emails(marketer_client.get("/contacts/?tag=VIP")) == ["tagged@example.com"]
    assert _emails(marketer_client.get(f"/contacts/?segment={segment.pk}")) == [
        "member@example.com"
    ]


def test_an_unknown_segment_says_so_instead_of_failing(marketer_client):
    response = marketer_client.get("/contacts/?segment=999999")

    assert response.status_code == 200
    assert "That segment does not exist" in response.content.decode()


def test_keyset_pages_walk_forward_and_back_over_every_contact_once(marketer_client):
    contacts = ContactFactory.create_batch(PAGE_SIZE * 2 + 3)
    ids = [contact.pk for contact in contacts]

    first = marketer_client.get("/contacts/").context["page"]
    second = marketer_client.get(f"/contacts/?after={first.next_after}").context["page"]
    third = marketer_client.get(f"/contacts/?after={second.next_after}").context["page"]
    back = marketer_client.get(f"/contacts/?before={third.previous_before}").context["page"]

    seen = [c.pk for page in (first, second, third) for c in page.items]
    assert seen == ids
    assert first.previous_before is None and third.next_after is None
    assert [c.pk for c in back.items] == [c.pk for c in second.items]
    assert back.previous_before == second.items[0].pk


def test_page_links_keep_the_filters(marketer_client):
    ContactFactory.create_batch(PAGE_SIZE + 1, first_name="Zed")

    page = marketer_client.get("/contacts/?q=Zed").content.decode()

    assert "?q=Zed&amp;after=" in page


def test_the_list_never_counts_the_table_and_its_queries_are_pinned(
    marketer_client, django_assert_num_queries
):
    for contact in ContactFactory.create_batch(PAGE_SIZE + 5):
        ContactTagFactory(contact=contact)
    SegmentFactory.create_batch(3)

    # session, user, roles, segments and fields of the filters, the page, its tags
    with django_assert_num_queries(7) as captured:
        response = marketer_client.get("/contacts/?after=0")

    assert response.status_code == 200
    assert not [q for q in captured.captured_queries if "COUNT(" in q["sql"].upper()]


def test_an_invalid_cursor_is_a_form_error_not_a_500(marketer_client):
    response = marketer_client.get("/contacts/?after=abc")

    assert response.status_code == 200
    assert "Enter a whole number" in response.content.decode()


def test_an_email_or_external_id_typed_in_full_finds_that_contact_by_index(marketer_client):
    ContactFactory(email="ann@example.com", external_id="u-1")
    ContactFactory(email="joann@example.com")
    ContactFactory(email="bob@example.com", external_id="u-10")

    by_email = marketer_client.get("/contacts/?q=ANN@example.com")
    by_id = marketer_client.get("/contacts/?q=u-1")

    assert _emails(by_email) == ["ann@example.com"]
    assert "Show every contact whose email or name contains it" in by_email.content.decode()
    assert _emails(by_id) == ["ann@example.com"]


def test_partial_matches_on_request_even_when_one_matches_exactly(marketer_client):
    ContactFactory(email="ann@example.com")
    ContactFactory(email="joann@example.com")

    response = marketer_client.get("/contacts/?q=ann@example.com&partial=1")

    assert _emails(response) == ["ann@example.com", "joann@example.com"]


def test_an_exact_match_outside_the_filters_is_not_shown(marketer_client):
    ContactFactory(email="ann@example.com")
    segment = SegmentFactory()

    response = marketer_client.get(f"/contacts/?q=ann@example.com&segment={segment.pk}")

    assert _emails(response) == []


def test_filter_by_a_field_value_means_what_it_means_in_a_segment(marketer_client):
    from tests.factories import CustomFieldFactory

    CustomFieldFactory(key="plan", type="choice", choices=["free", "pro"])
    CustomFieldFactory(key="seats", type="number")
    CustomFieldFactory(key="onboarded", type="boolean")
    CustomFieldFactory(key="trial_ends", type="date")
    ContactFactory(
        email="pro@example.com",
        country="FR",
        fields={"plan": "pro", "seats": 3, "onboarded": True, "trial_ends": "2026-12-01"},
    )
    ContactFactory(
        email="free@example.com",
        country="DE",
        fields={"plan": "free", "seats": 1, "onboarded": False, "trial_ends": "2026-12-02"},
    )

    def emails(query: str) -> list[str]:
        return _emails(marketer_client.get(f"/contacts/?{query}"))

    assert emails("field=plan&value=PRO") == ["pro@example.com"]  # case-insensitive, as segments
    assert emails("field=seats&value=1") == ["free@example.com"]
    assert emails("field=onboarded&value=yes") == ["pro@example.com"]
    assert emails("field=onboarded&value=no") == ["free@example.com"]
    assert emails("field=trial_ends&value=2026-12-02") == ["free@example.com"]
    assert emails("field=country&value=fr") == ["pro@example.com"]
    assert emails("field=plan&value=pro&q=free") == []


@pytest.mark.parametrize(
    "query, message",
    [
        ("field=seats&value=many", "Enter a number."),
        ("field=trial_ends&value=tomorrow", "Enter a day as YYYY-MM-DD."),
        ("field=plan", "Pick a field and enter a value."),
        ("field=no_such_field&value=x", "Select a valid choice."),
    ],
)
def test_a_bad_field_filter_is_a_form_error_not_a_500(marketer_client, query, message):
    from tests.factories import CustomFieldFactory

    CustomFieldFactory(key="plan", type="text")
    CustomFieldFactory(key="seats", type="number")
    CustomFieldFactory(key="trial_ends", type="date")

    response = marketer_client.get(f"/contacts/?{query}")

    assert response.status_code == 200
    assert message in response.content.decode()
