import json

import pytest
from django.contrib.auth.models import User

from contacts.models import Contact, CustomField
from segments.services import segment_create
from tests.factories import ContactFactory, CustomFieldFactory, TagFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "pw"))
    return client


def test_deleting_a_field_removes_its_values_from_contacts(admin_client):
    field = CustomFieldFactory(key="plan")
    contact = ContactFactory(fields={"plan": "pro"})

    response = admin_client.post(f"/admin/contacts/customfield/{field.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
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

    assert response.status_code == 302
    assert sent == [([contact.pk], {"field:country"})]


def test_a_contact_deleted_in_the_admin_is_announced_to_segments(
    admin_client, sent, django_capture_on_commit_callbacks
):
    contact = ContactFactory()

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(f"/admin/contacts/contact/{contact.pk}/delete/", {"post": "yes"})

    assert sent == [([contact.pk], {"deleted"})]


def test_a_tag_added_in_the_admin_is_announced_to_segments(
    admin_client, sent, django_capture_on_commit_callbacks
):
    contact = ContactFactory()
    tag = TagFactory(name="vip")

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post("/admin/contacts/contacttag/add/", {"contact": contact.pk, "tag": tag.pk})

    assert sent == [([contact.pk], {"tags"})]
