import pytest

from automation.engine import enrollments_advance
from contacts.signals import contacts_changed
from tests.automation.engine_helpers import NOW, enroll, flow_version, visited
from tests.factories import ContactFactory, ContactTagFactory, CustomFieldFactory, TagFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def announced():
    changes = []

    def receiver(sender, contact_ids, changes: frozenset, **kwargs):
        announced_changes.append((list(contact_ids), set(changes)))

    announced_changes = changes
    contacts_changed.connect(receiver, weak=False, dispatch_uid="test-announced")
    yield changes
    contacts_changed.disconnect(dispatch_uid="test-announced")


def advance(*enrollments):
    enrollments_advance(enrollments=enrollments, now=NOW)
    for enrollment in enrollments:
        enrollment.refresh_from_db()


def test_update_field_writes_a_custom_value_through_the_contact_services(announced):
    CustomFieldFactory(key="plan", type="text")
    contact = ContactFactory(fields={"plan": "trial"})
    enrollment = enroll(
        flow_version([{"id": "u", "type": "update_field", "field": "plan", "value": "pro"}]),
        contact,
    )

    advance(enrollment)

    contact.refresh_from_db()
    assert contact.fields == {"plan": "pro"}
    assert ([contact.pk], {"fields.plan"}) in announced
    assert visited(enrollment) == [("u", "")]


def test_update_field_writes_a_builtin_column_normalised():
    contact = ContactFactory(country=None)
    version = flow_version([{"id": "u", "type": "update_field", "field": "country", "value": "fr"}])

    advance(enroll(version, contact))

    contact.refresh_from_db()
    assert contact.country == "FR"


def test_update_field_with_a_value_the_field_refuses_fails_the_step_and_goes_on():
    CustomFieldFactory(key="seats", type="number")
    version = flow_version(
        [
            {"id": "u", "type": "update_field", "field": "seats", "value": "many"},
            {"id": "t", "type": "tag", "add": ["after"]},
        ]
    )
    enrollment = enroll(version)

    advance(enrollment)

    assert visited(enrollment) == [("u", "failed"), ("t", "")]
    assert enrollment.step_runs.get(step_id="u").status == "failed"
    assert enrollment.state == "completed"


def test_adjust_score_adds_to_the_lead_score_and_announces_it(announced):
    contacts = [ContactFactory(lead_score=10), ContactFactory(lead_score=-3)]
    version = flow_version([{"id": "s", "type": "adjust_score", "by": 5}])

    advance(*(enroll(version, contact) for contact in contacts))

    assert [c.lead_score for c in contacts if not c.refresh_from_db()] == [15, 2]
    ids = sorted(c.pk for c in contacts)
    assert (ids, {"field:lead_score"}) in announced


def test_a_tag_step_adds_and_removes_tags_and_announces_it(announced):
    contact = ContactFactory()
    ContactTagFactory(contact=contact, tag=TagFactory(name="Lead"))
    version = flow_version([{"id": "t", "type": "tag", "add": ["Customer"], "remove": ["lead"]}])

    advance(enroll(version, contact))

    assert sorted(contact.contacttag_set.values_list("tag__name", flat=True)) == ["Customer"]
    assert ([contact.pk], {"tags"}) in announced
