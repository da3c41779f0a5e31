import pytest

from contacts.models import CustomField
from tests.factories import ContactFactory, CustomFieldFactory

pytestmark = pytest.mark.django_db


def test_create_list_get_field(api):
    response = api.post(
        "/api/v1/fields",
        {"key": "plan", "label": "Plan", "type": "choice", "choices": ["free", "pro"]},
        format="json",
    )

    assert response.status_code == 201
    assert response.json()["key"] == "plan"
    assert api.get("/api/v1/fields").json()["results"][0]["key"] == "plan"
    assert api.get("/api/v1/fields/plan").json()["choices"] == ["free", "pro"]


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"key": "email", "label": "E", "type": "text"}, "key"),
        ({"key": "Bad Key", "label": "B", "type": "text"}, "key"),
        ({"key": "x", "label": "X", "type": "colour"}, "type"),
        ({"key": "x", "label": "X", "type": "choice"}, "choices"),
        ({"key": "x", "label": "X", "type": "text", "choices": ["a"]}, "choices"),
    ],
)
def test_invalid_field_definitions_name_the_bad_key(api, body, path):
    response = api.post("/api/v1/fields", body, format="json")

    assert response.status_code == 400
    assert path in {error["path"] for error in response.json()["errors"]}


def test_duplicate_key_is_400(api):
    CustomFieldFactory(key="plan")

    response = api.post(
        "/api/v1/fields", {"key": "plan", "label": "P", "type": "text"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"path": "key", "message": "A field with this key already exists."}
    ]


def test_type_cannot_change_once_values_exist(api):
    CustomFieldFactory(key="seats", type="number")
    ContactFactory(fields={"seats": 3})

    response = api.patch("/api/v1/fields/seats", {"type": "text"}, format="json")

    assert response.status_code == 400
    assert [e["path"] for e in response.json()["errors"]] == ["type"]
    assert CustomField.objects.get(key="seats").type == "number"


def test_label_can_change(api):
    CustomFieldFactory(key="seats", type="number")

    response = api.patch("/api/v1/fields/seats", {"label": "Seats bought"}, format="json")

    assert response.json()["label"] == "Seats bought"


def test_delete_field_removes_its_values_everywhere(api):
    CustomFieldFactory(key="plan")
    contact = ContactFactory(fields={"plan": "pro", "other": 1})

    response = api.delete("/api/v1/fields/plan")

    assert (response.status_code, response.content) == (204, b"")
    contact.refresh_from_db()
    assert contact.fields == {"other": 1}
    assert api.get("/api/v1/fields/plan").json() == {"detail": "Not found."}


def test_key_cannot_change(api):
    CustomFieldFactory(key="seats", type="number")

    response = api.patch("/api/v1/fields/seats", {"key": "places"}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == [{"path": "key", "message": "A field's key cannot change."}]


def test_a_definition_copied_from_a_response_patches_cleanly(api):
    CustomFieldFactory(key="seats", type="number", label="Seats")
    body = api.get("/api/v1/fields/seats").json()

    response = api.patch("/api/v1/fields/seats", {**body, "label": "Places"}, format="json")

    assert response.status_code == 200, response.json()
    assert response.json()["label"] == "Places"


@pytest.mark.parametrize(
    ("choices", "error"),
    [
        (
            ["free", "pro\x07"],
            {"path": "choices[1]", "message": "Must not contain control characters."},
        ),
        (["Pro", "pro"], {"path": "choices", "message": "Choice 'pro' is listed twice."}),
    ],
)
def test_bad_choices_are_refused_by_path(api, choices, error):
    response = api.post(
        "/api/v1/fields",
        {"key": "plan", "label": "Plan", "type": "choice", "choices": choices},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["errors"] == [error]
    assert not CustomField.objects.exists()
