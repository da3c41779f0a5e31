import pytest

from contacts.models import Contact
from segments.models import PendingContactChange
from tests.factories import ContactFactory, ContactTagFactory, CustomFieldFactory, TagFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def bob():
    CustomFieldFactory(key="plan", label="Plan", type="choice", choices=["free", "pro"])
    CustomFieldFactory(key="seats", label="Seats", type="number")
    CustomFieldFactory(key="active", label="Active", type="boolean")
    contact = ContactFactory(
        email="bob@example.com", country="FR", fields={"plan": "free", "seats": 3}
    )
    ContactTagFactory(contact=contact, tag=TagFactory(name="beta"))
    return contact


def _form_data(client, contact, **changes) -> dict:
    """What the browser posts: the form as shown, with `changes` typed in."""
    form = client.get(f"/contacts/{contact.pk}/edit/").context["form"]
    data = {name: form[name].value() or "" for name in form.fields}
    return data | changes


def test_the_edit_form_shows_current_values(marketer_client, bob):
    page = marketer_client.get(f"/contacts/{bob.pk}/edit/").content.decode()

    assert 'value="bob@example.com"' in page
    assert '<option value="free" selected>free</option>' in page
    assert 'value="beta"' in page
    assert '<label class="form-label" for="id_cf_seats">Seats</label>' in page


def test_saving_changes_fields_and_tags_through_the_contact_service(marketer_client, bob):
    data = _form_data(marketer_client, bob, cf_plan="pro", cf_active="true", tags="vip, beta")

    response = marketer_client.post(f"/contacts/{bob.pk}/edit/", data)

    assert response.status_code == 302
    assert response["Location"] == f"/contacts/{bob.pk}/"
    bob = Contact.objects.get(pk=bob.pk)
    assert bob.fields == {"plan": "pro", "seats": 3, "active": True}
    assert sorted(tag.name for tag in bob.tags.all()) == ["beta", "vip"]
    # Segments hear of the change like after an API write: only what changed.
    changes = PendingContactChange.objects.get()
    assert changes.contact_ids == [bob.pk]
    assert set(changes.changes) == {"fields.plan", "fields.active", "tags"}


def test_clearing_a_custom_value_removes_it(marketer_client, bob):
    data = _form_data(marketer_client, bob, cf_seats="")

    marketer_client.post(f"/contacts/{bob.pk}/edit/", data)

    assert Contact.objects.get(pk=bob.pk).fields == {"plan": "free"}


def test_invalid_values_come_back_on_the_fields_they_name_and_nothing_is_saved(
    marketer_client, bob
):
    data = _form_data(marketer_client, bob, cf_seats="lots", country="Narnia", cf_plan="pro")

    response = marketer_client.post(f"/contacts/{bob.pk}/edit/", data)

    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["cf_seats"] == ["'lots' is not a number."]
    assert "not an ISO 3166 alpha-2 country code" in form.errors["country"][0]
    assert "Nothing was saved" in response.content.decode()
    assert Contact.objects.get(pk=bob.pk).fields["plan"] == "free"
    assert not PendingContactChange.objects.exists()


def test_an_email_taken_by_another_contact_is_a_form_error(marketer_client, bob):
    ContactFactory(email="taken@example.com")
    data = _form_data(marketer_client, bob, email="taken@example.com")

    response = marketer_client.post(f"/contacts/{bob.pk}/edit/", data)

    assert response.status_code == 200
    assert response.context["form"].errors["email"] == ["Another contact already has this email."]


def test_removing_both_email_and_external_id_is_a_form_error(marketer_client, bob):
    data = _form_data(marketer_client, bob, email="")

    response = marketer_client.post(f"/contacts/{bob.pk}/edit/", data)

    assert response.context["form"].errors["email"] == [
        "A contact needs an email or an external_id."
    ]


def test_posting_the_form_unchanged_writes_nothing(marketer_client, bob):
    response = marketer_client.post(f"/contacts/{bob.pk}/edit/", _form_data(marketer_client, bob))

    assert response.status_code == 302
    assert not PendingContactChange.objects.exists()
