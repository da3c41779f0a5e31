import pytest

from contacts.models import Contact, CustomField
from segments.services import segment_create
from tests.factories import ContactFactory, CustomFieldFactory

pytestmark = pytest.mark.django_db


def test_the_list_shows_every_field(marketer_client):
    CustomFieldFactory(key="plan", label="Plan", type="choice", choices=["free", "pro"])
    CustomFieldFactory(key="mrr", label="MRR", type="number")

    page = marketer_client.get("/fields/").content.decode()

    assert "<code>plan</code>" in page and "free, pro" in page
    assert "<code>mrr</code>" in page and "Number" in page


def test_creating_a_choice_field_with_one_choice_per_line(marketer_client):
    response = marketer_client.post(
        "/fields/new/",
        {"label": "Plan", "key": "plan", "type": "choice", "choices": "free\r\npro\r\n\r\n"},
    )

    assert response.status_code == 302
    field = CustomField.objects.get(key="plan")
    assert (field.label, field.type, field.choices) == ("Plan", "choice", ["free", "pro"])


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"key": "email", "type": "text"}, "key", "'email' is a built-in contact field."),
        ({"key": "Bad Key", "type": "text"}, "key", "Use lower-case letters"),
        ({"key": "plan", "type": "choice"}, "choices", "A choice field needs choices."),
        ({"key": "seats", "type": "number", "choices": "1"}, "choices", "Only choice fields"),
        ({"key": "plan", "type": "choice", "choices": "a\nA"}, "choices", "listed twice"),
    ],
)
def test_the_services_rules_come_back_on_the_form(marketer_client, data, field, message):
    response = marketer_client.post("/fields/new/", {"label": "Some label", **data})

    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert not CustomField.objects.exists()


def test_a_key_in_use_is_a_form_error(marketer_client):
    CustomFieldFactory(key="plan")

    response = marketer_client.post(
        "/fields/new/", {"label": "Plan", "key": "plan", "type": "text"}
    )

    assert response.context["form"].errors["key"] == ["A field with this key already exists."]


def test_editing_label_and_choices(marketer_client):
    field = CustomFieldFactory(key="plan", label="Plan", type="choice", choices=["free"])

    response = marketer_client.post(
        f"/fields/{field.pk}/edit/", {"label": "Billing plan", "choices": "free\npro"}
    )

    assert response.status_code == 302
    field.refresh_from_db()
    assert (field.label, field.choices) == ("Billing plan", ["free", "pro"])


def test_a_non_choice_field_has_no_choices_input(marketer_client):
    field = CustomFieldFactory(key="mrr", type="number")

    page = marketer_client.get(f"/fields/{field.pk}/edit/").content.decode()

    assert 'name="choices"' not in page


def test_deleting_an_unused_field_removes_its_values(marketer_client):
    field = CustomFieldFactory(key="nickname", type="text")
    contact = ContactFactory(fields={"nickname": "Bobby"})

    response = marketer_client.post(f"/fields/{field.pk}/delete/")

    assert response.status_code == 302
    assert not CustomField.objects.filter(pk=field.pk).exists()
    assert Contact.objects.get(pk=contact.pk).fields == {}


def test_deleting_a_field_a_segment_reads_is_refused_and_names_the_segment(marketer_client):
    field = CustomFieldFactory(key="plan", type="choice", choices=["free", "pro"])
    segment = segment_create(
        name="Pro users",
        conditions={"all": [{"type": "field", "field": "plan", "op": "eq", "value": "pro"}]},
    )

    confirm = marketer_client.get(f"/fields/{field.pk}/delete/")
    response = marketer_client.post(f"/fields/{field.pk}/delete/")

    assert confirm.context["readers"] == [f"Segment 'Pro users' (#{segment.pk})"]
    assert "Segment &#x27;Pro users&#x27;" in confirm.content.decode()
    assert response.status_code == 409
    assert "Not deleted." in response.content.decode()
    assert f"Segment 'Pro users' (#{segment.pk}) read this field" in response.context["error"]
    assert CustomField.objects.filter(pk=field.pk).exists()
