import pytest

from contacts.models import Contact
from tests.factories import ContactFactory, CustomFieldFactory

pytestmark = pytest.mark.django_db


def test_upsert_creates_contact_with_normalised_values(api):
    # given
    CustomFieldFactory(key="plan", type="choice", choices=["free", "pro"])
    CustomFieldFactory(key="seats", type="number")
    # when
    response = api.post(
        "/api/v1/contacts",
        {
            "email": "  Jane.Doe@Example.COM ",
            "first_name": "Jane",
            "country": "fr",
            "timezone": "europe/paris",
            "fields": {"plan": "PRO", "seats": "12"},
            "tags": ["VIP", "vip", "beta"],
        },
        format="json",
    )
    # then
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["email"] == "jane.doe@example.com"
    assert body["country"] == "FR"
    assert body["timezone"] == "Europe/Paris"
    assert body["fields"] == {"plan": "pro", "seats": 12}
    assert body["tags"] == ["beta", "VIP"]
    assert body["lead_score"] == 0 and body["email_status"] == "active"
    assert {"id", "created_at", "updated_at"} <= set(body)


def test_upsert_by_email_is_case_insensitive_and_updates(api):
    contact = ContactFactory(email="ann@example.com", first_name="Ann")

    response = api.post(
        "/api/v1/contacts", {"email": "ANN@example.com", "last_name": "Lee"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["id"] == contact.pk
    contact.refresh_from_db()
    assert (contact.first_name, contact.last_name) == ("Ann", "Lee")
    assert Contact.objects.count() == 1


def test_upsert_by_external_id_changes_the_email(api):
    contact = ContactFactory(email="old@example.com", external_id="u-1")

    response = api.post(
        "/api/v1/contacts", {"external_id": "u-1", "email": "new@example.com"}, format="json"
    )

    assert response.status_code == 200
    assert (response.json()["id"], response.json()["email"]) == (contact.pk, "new@example.com")
    contact.refresh_from_db()
    assert contact.email == "new@example.com"


def test_upsert_with_email_of_another_contact_is_a_400_naming_email(api):
    ContactFactory(email="taken@example.com")
    ContactFactory(email="mine@example.com", external_id="u-2")

    response = api.post(
        "/api/v1/contacts", {"external_id": "u-2", "email": "taken@example.com"}, format="json"
    )

    assert response.status_code == 400
    assert [e["path"] for e in response.json()["errors"]] == ["email"]


def test_upsert_merges_custom_fields_and_null_removes_one(api):
    CustomFieldFactory(key="plan", type="text")
    CustomFieldFactory(key="company", type="text")
    contact = ContactFactory(email="a@example.com", fields={"plan": "pro", "company": "Acme"})

    api.post(
        "/api/v1/contacts", {"email": "a@example.com", "fields": {"plan": None}}, format="json"
    )

    contact.refresh_from_db()
    assert contact.fields == {"company": "Acme"}


def test_upsert_adds_tags_and_patch_replaces_them(api):
    contact = ContactFactory(email="t@example.com")
    api.post("/api/v1/contacts", {"email": "t@example.com", "tags": ["a", "b"]}, format="json")
    api.post("/api/v1/contacts", {"email": "t@example.com", "tags": ["c"]}, format="json")
    assert sorted(contact.tags.values_list("name", flat=True)) == ["a", "b", "c"]

    response = api.patch(f"/api/v1/contacts/{contact.pk}", {"tags": ["b"]}, format="json")

    assert response.status_code == 200
    assert response.json()["tags"] == ["b"]


def test_every_invalid_value_is_reported_with_its_path(api):
    CustomFieldFactory(key="seats", type="number")

    response = api.post(
        "/api/v1/contacts",
        {
            "email": "not-an-email",
            "country": "France",
            "timezone": "Mars/Olympus",
            "fields": {"seats": "many", "unknown_key": 1},
            "frist_name": "typo",
        },
        format="json",
    )

    assert response.status_code == 400
    paths = {error["path"] for error in response.json()["errors"]}
    assert paths == {
        "email",
        "country",
        "timezone",
        "fields.seats",
        "fields.unknown_key",
        "frist_name",
    }
    assert not Contact.objects.exists()


def test_upsert_without_identity_is_rejected(api):
    response = api.post("/api/v1/contacts", {"first_name": "Nobody"}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"][0]["path"] == "email"


def test_patch_cannot_remove_the_only_identity(api):
    contact = ContactFactory(email="only@example.com", external_id=None)

    response = api.patch(f"/api/v1/contacts/{contact.pk}", {"email": None}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"path": "email", "message": "A contact needs an email or an external_id."}
    ]
    contact.refresh_from_db()
    assert contact.email == "only@example.com"


def test_get_and_delete_contact(api):
    contact = ContactFactory()

    assert api.get(f"/api/v1/contacts/{contact.pk}").json()["email"] == contact.email
    deleted = api.delete(f"/api/v1/contacts/{contact.pk}")
    assert (deleted.status_code, deleted.content) == (204, b"")
    gone = api.get(f"/api/v1/contacts/{contact.pk}")
    assert (gone.status_code, gone.json()) == (404, {"detail": "Not found."})


def test_list_filters_and_paginates(api):
    # Last names fixed: a random one (Carter, McCarthy) would match the search for "car".
    ContactFactory(email="alice@example.com", first_name="Alice", last_name="Smith")
    ContactFactory(email="bob@example.com", first_name="Bob", last_name="Jones")
    ContactFactory(email="carol@example.com", first_name="Carol", last_name="Brown")

    by_email = api.get("/api/v1/contacts", {"email": "BOB@example.com"}).json()
    by_search = api.get("/api/v1/contacts", {"search": "car"}).json()
    page = api.get("/api/v1/contacts", {"page_size": 2}).json()

    assert [c["first_name"] for c in by_email["results"]] == ["Bob"]
    assert [c["first_name"] for c in by_search["results"]] == ["Carol"]
    assert page["count"] == 3 and len(page["results"]) == 2 and page["next"]


def test_list_query_count_does_not_grow_with_contacts(api, django_assert_num_queries):
    ContactFactory.create_batch(30)
    api.get("/api/v1/contacts")  # the key's first use stamps last_used_at and caches it

    # count + page + tags prefetch
    with django_assert_num_queries(3):
        response = api.get("/api/v1/contacts", {"page_size": 30})

    assert len(response.json()["results"]) == 30


def test_bad_query_parameters_are_400(api):
    page = api.get("/api/v1/contacts", {"page": "x"})
    contact = api.get("/api/v1/events", {"contact": "abc"})
    since = api.get("/api/v1/events", {"since": "yesterday"})

    assert (page.status_code, page.json()) == (404, {"detail": "Invalid page."})
    assert contact.status_code == 400
    assert [e["path"] for e in contact.json()["errors"]] == ["contact"]
    assert since.status_code == 400
    assert [e["path"] for e in since.json()["errors"]] == ["since"]


def test_malformed_json_is_a_400(api):
    response = api.generic("POST", "/api/v1/contacts", "{not json", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["errors"]


def test_nul_characters_are_rejected_not_a_500(api):
    response = api.post(
        "/api/v1/contacts", {"email": "a@example.com", "first_name": "a\x00b"}, format="json"
    )

    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["path"] == "" and "NUL characters" in error["message"]
