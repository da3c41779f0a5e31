import json

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from contacts.models import Contact, CustomField
from segments.services import segment_create
from tests.factories import (
    ContactFactory,
    CustomFieldFactory,
    EventFactory,
    SegmentFactory,
    SegmentMembershipFactory,
    TagFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "pw"))
    return client


def test_deleting_a_field_removes_its_values_from_contacts(admin_client):
    field = CustomFieldFactory(key="plan")
    contact = ContactFactory(fields={"plan": "pro"})

    response = admin_client.post(f"/admin/contacts/customfield/{field.pk}/delete/", {"post": "yes"})

    assert (response.status_code, response["Location"]) == (302, "/admin/contacts/customfield/")
    assert not CustomField.objects.filter(key="plan").exists()
    assert Contact.objects.get(pk=contact.pk).fields == {}


def test_a_field_read_by_a_segment_is_protected_from_deletion(admin_client):
    field = CustomFieldFactory(key="plan")
    segment_create(
        name="Pro", conditions={"type": "field", "field": "plan", "op": "eq", "value": "pro"}
    )

    page = admin_client.get(f"/admin/contacts/customfield/{field.pk}/delete/")
    admin_client.post(f"/admin/contacts/customfield/{field.pk}/delete/", {"post": "yes"})

    assert "Pro" in page.content.decode() and "reads" in page.content.decode()
    assert CustomField.objects.filter(key="plan").exists()


def test_key_and_type_cannot_change_in_the_admin(admin_client):
    field = CustomFieldFactory(key="seats", type="number", label="Seats")

    admin_client.post(
        f"/admin/contacts/customfield/{field.pk}/change/",
        {
            "key": "renamed",
            "type": "text",
            "label": "Seats bought",
            "source": "manual",
            "choices": "[]",
            "description": "",
        },
    )

    field.refresh_from_db()
    assert (field.key, field.type, field.label) == ("seats", "number", "Seats bought")


def _field_form(**values):
    return {"label": "Plan", "type": "text", "source": "manual", "choices": "[]", **values}


def test_a_field_added_in_the_admin_follows_the_api_rules(admin_client):
    response = admin_client.post(
        "/admin/contacts/customfield/add/",
        _field_form(key="email", type="choice", choices='["pro", "Pro"]'),
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "key": ["'email' is a built-in contact field."],
        "choices": ["Choice 'Pro' is listed twice."],
    }
    assert not CustomField.objects.exists()


def test_a_field_added_in_the_admin_is_created(admin_client):
    response = admin_client.post(
        "/admin/contacts/customfield/add/",
        _field_form(key="plan", type="choice", choices='["free", "pro"]'),
    )

    assert (response.status_code, response["Location"]) == (302, "/admin/contacts/customfield/")
    field = CustomField.objects.get()
    assert (field.key, field.type, field.choices) == ("plan", "choice", ["free", "pro"])


@pytest.fixture
def sent():
    from contacts.signals import contacts_changed

    signals = []

    def receiver(sender, *, contact_ids, changes, **kwargs):
        signals.append((contact_ids, set(changes)))

    contacts_changed.connect(receiver, dispatch_uid="tests.admin.sent")
    yield signals
    contacts_changed.disconnect(dispatch_uid="tests.admin.sent")


def _contact_form(contact, **changes):
    data = {
        "email": contact.email,
        "first_name": contact.first_name or "",
        "last_name": contact.last_name or "",
        "country": contact.country or "",
        "timezone": contact.timezone or "",
        "external_id": contact.external_id or "",
        "email_status": contact.email_status,
        "lead_score": contact.lead_score,
        "fields": json.dumps(contact.fields),
        "contacttag_set-TOTAL_FORMS": "0",
        "contacttag_set-INITIAL_FORMS": "0",
        # The read-only inline segments/admin.py adds; a browser posts its management form.
        "segment_memberships-TOTAL_FORMS": "0",
        "segment_memberships-INITIAL_FORMS": "0",
    }
    return {**data, **changes}


def test_a_contact_edited_in_the_admin_is_announced_to_segments(
    admin_client, sent, django_capture_on_commit_callbacks
):
    contact = ContactFactory(country="FR", fields={})

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            f"/admin/contacts/contact/{contact.pk}/change/", _contact_form(contact, country="DE")
        )

    assert (response.status_code, response["Location"]) == (302, "/admin/contacts/contact/")
    assert sent == [([contact.pk], {"field:country"})]


def test_a_contact_deleted_in_the_admin_leaves_its_segments(admin_client):
    from segments.evaluation import segment_evaluate
    from segments.models import SegmentTransition

    contact = ContactFactory(country="FR")
    france = segment_create(
        name="France", conditions={"type": "field", "field": "country", "op": "eq", "value": "FR"}
    )
    segment_evaluate(segment=france, now=france.created_at)

    response = admin_client.post(f"/admin/contacts/contact/{contact.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not Contact.objects.filter(pk=contact.pk).exists()
    left = SegmentTransition.objects.filter(kind="left").values_list("segment", "contact")
    assert list(left) == [(france.pk, contact.pk)]
    france.refresh_from_db()
    assert france.size == 0


def test_a_tag_added_in_the_admin_is_announced_to_segments(
    admin_client, sent, django_capture_on_commit_callbacks
):
    contact = ContactFactory()
    tag = TagFactory(name="vip")

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post("/admin/contacts/contacttag/add/", {"contact": contact.pk, "tag": tag.pk})

    assert sent == [([contact.pk], {"tags"})]


def test_the_admin_normalises_a_contact_as_the_api_does(admin_client):
    CustomFieldFactory(key="plan", type="choice", choices=["free", "pro"])
    contact = ContactFactory(fields={})

    response = admin_client.post(
        f"/admin/contacts/contact/{contact.pk}/change/",
        _contact_form(
            contact,
            email=" Ann@Example.COM ",
            country="fr",
            timezone="europe/paris",
            fields=json.dumps({"plan": "PRO"}),
        ),
    )

    assert (response.status_code, response["Location"]) == (302, "/admin/contacts/contact/")
    contact.refresh_from_db()
    assert (contact.email, contact.country, contact.timezone, contact.fields) == (
        "ann@example.com",
        "FR",
        "Europe/Paris",
        {"plan": "pro"},
    )


def test_the_admin_refuses_bad_values_with_the_api_messages(admin_client):
    CustomFieldFactory(key="plan", type="choice", choices=["free", "pro"])
    contact = ContactFactory(country="FR", fields={})

    response = admin_client.post(
        f"/admin/contacts/contact/{contact.pk}/change/",
        _contact_form(contact, country="ZZ", fields=json.dumps({"plan": "gold"})),
    )

    errors = response.context["adminform"].form.errors
    assert response.status_code == 200
    assert errors == {
        "country": ["'ZZ' is not an ISO 3166 alpha-2 country code (e.g. FR, US)."],
        "fields": ["fields.plan: 'gold' is not one of the field's choices ('free', 'pro')."],
    }
    contact.refresh_from_db()
    assert (contact.country, contact.fields) == ("FR", {})


def test_a_custom_value_removed_in_the_admin_is_removed_and_announced(
    admin_client, sent, django_capture_on_commit_callbacks
):
    CustomFieldFactory(key="plan", type="text")
    CustomFieldFactory(key="seats", type="number")
    contact = ContactFactory(fields={"plan": "pro", "seats": 2})

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            f"/admin/contacts/contact/{contact.pk}/change/",
            _contact_form(contact, fields=json.dumps({"seats": 2}), lead_score=5),
        )

    assert (response.status_code, response["Location"]) == (302, "/admin/contacts/contact/")
    contact.refresh_from_db()
    assert (contact.fields, contact.lead_score) == ({"seats": 2}, 5)
    assert sorted(sent, key=str) == [
        ([contact.pk], {"field:lead_score"}),
        ([contact.pk], {"fields.plan"}),
    ]
    # The corrected score is a ledger row: the score stays the ledger's sum.
    from scoring.models import ScoreLedgerEntry

    ledger = ScoreLedgerEntry.objects.filter(contact=contact)
    assert [(e.delta, e.reason) for e in ledger] == [(5, "admin: score corrected")]


def test_a_contact_added_in_the_admin_is_created_and_announced(
    admin_client, sent, django_capture_on_commit_callbacks
):
    form = _contact_form(Contact(email="New@Example.com", fields={}), country="de")

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post("/admin/contacts/contact/add/", form)

    contact = Contact.objects.get()
    assert response.status_code == 302
    assert response["Location"] == "/admin/contacts/contact/"
    assert (contact.email, contact.country) == ("new@example.com", "DE")
    [(contact_ids, changes)] = sent
    assert contact_ids == [contact.pk] and {"field:email", "field:country"} <= changes


def test_the_contact_page_shows_recent_events_and_links_to_all(admin_client):
    contact = ContactFactory()
    EventFactory.create_batch(12, contact=contact, name="login")
    EventFactory(contact=contact, name="purchase", occurred_at=timezone.now())
    EventFactory(name="not-this-contacts")

    page = admin_client.get(f"/admin/contacts/contact/{contact.pk}/change/").content.decode()

    assert page.count("<td>login</td>") == 9 and page.count("<td>purchase</td>") == 1
    assert "not-this-contacts" not in page
    assert f'href="/admin/contacts/event/?contact__id__exact={contact.pk}">All 13 events' in page


def test_the_contact_page_shows_its_current_segments_only(admin_client):
    contact = ContactFactory()
    SegmentMembershipFactory(contact=contact, segment=SegmentFactory(name="Pro users"))
    SegmentMembershipFactory(
        contact=contact, segment=SegmentFactory(name="Old trial"), left_at=timezone.now()
    )

    page = admin_client.get(f"/admin/contacts/contact/{contact.pk}/change/").content.decode()

    assert "Current segments" in page
    assert "Pro users" in page and "Old trial" not in page
