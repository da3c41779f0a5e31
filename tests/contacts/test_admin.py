import pytest
from django.contrib.auth.models import User

from contacts.models import Contact, CustomField
from segments.services import segment_create
from tests.factories import ContactFactory, CustomFieldFactory

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
