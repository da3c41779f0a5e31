import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from contacts.models import Contact, ContactImport, ImportStatus
from tests.factories import ContactImportFactory, CustomFieldFactory

pytestmark = pytest.mark.django_db

CSV = b"email,first_name,plan\nann@example.com,Ann,pro\nbob@example.com,Bob,free\n"


def _upload(data: bytes = CSV, name: str = "contacts.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="text/csv")


def test_post_accepts_the_file_and_processes_it_after_commit(
    api, django_capture_on_commit_callbacks
):
    # given
    CustomFieldFactory(key="plan", type="choice", choices=["free", "pro"])
    # when
    with django_capture_on_commit_callbacks() as callbacks:
        response = api.post(
            "/api/v1/imports", {"file": _upload(), "tags": ["fair", "vip;beta"]}, format="multipart"
        )
    # then: accepted, not processed before the commit
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["status"] == "pending"
    assert (body["filename"], body["total_rows"], body["processed_rows"]) == ("contacts.csv", 2, 0)
    assert body["mapping"] == {"email": "email", "first_name": "first_name", "plan": "plan"}
    assert body["tags"] == ["fair", "vip", "beta"]
    assert not Contact.objects.exists()
    # and processed once committed
    [enqueue] = callbacks
    with django_capture_on_commit_callbacks(execute=True):
        enqueue()
    done = api.get(f"/api/v1/imports/{body['id']}").json()
    assert done["status"] == "done"
    assert (done["created_count"], done["updated_count"], done["error_count"]) == (2, 0, 0)
    assert Contact.objects.get(email="ann@example.com").fields == {"plan": "pro"}


def test_post_with_explicit_mapping(api, django_capture_on_commit_callbacks):
    mapping = {"first_name": "", "plan": "tags"}

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/v1/imports",
            {"file": _upload(), "mapping": json.dumps(mapping)},
            format="multipart",
        )

    assert response.status_code == 202, response.json()
    contact = Contact.objects.get(email="ann@example.com")
    assert contact.first_name is None
    assert [tag.name for tag in contact.tags.all()] == ["pro"]


def test_post_names_unmapped_columns_and_stores_nothing(api):
    response = api.post("/api/v1/imports", {"file": _upload()}, format="multipart")

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "path": "mapping.plan",
            "message": "Column 'plan' matches no contact field: map it to a field key, "
            'or to "" to ignore it.',
        }
    ]
    assert not ContactImport.objects.exists()


@pytest.mark.parametrize(
    "mapping",
    ["{not json", "[1, 2]", '"email"', '{"plan\\u0000": ""}', '{"plan": "\\ud800"}', "[" * 100_000],
)
def test_post_with_mapping_that_is_not_a_json_object_is_400(api, mapping):
    response = api.post(
        "/api/v1/imports", {"file": _upload(), "mapping": mapping}, format="multipart"
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["path"] == "mapping"


def test_post_with_a_mapping_value_that_is_not_a_string_is_400(api):
    response = api.post(
        "/api/v1/imports",
        {"file": _upload(), "mapping": json.dumps({"plan": 3})},
        format="multipart",
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["path"] == "mapping.plan"


def test_filename_is_stored_without_control_characters(api):
    response = api.post(
        "/api/v1/imports",
        {"file": _upload(name="con\x07tacts.csv"), "mapping": '{"plan": ""}'},
        format="multipart",
    )

    assert response.status_code == 202
    assert response.json()["filename"] == "contacts.csv"
    assert ContactImport.objects.get().filename == "contacts.csv"


def test_post_without_a_file_is_400(api):
    response = api.post("/api/v1/imports", {"mapping": "{}"}, format="multipart")

    assert response.status_code == 400
    assert response.json()["errors"][0]["path"] == "file"


def test_post_as_json_is_415(api):
    response = api.post("/api/v1/imports", {"file": "email\na@x.io"}, format="json")

    assert response.status_code == 415
    assert response.json()["detail"] == 'Unsupported media type "application/json" in request.'


def test_file_over_the_size_limit_is_400(api, settings):
    settings.CONTACT_IMPORT_MAX_BYTES = 40

    response = api.post("/api/v1/imports", {"file": _upload(CSV * 2)}, format="multipart")

    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["path"] == "file" and "limited to" in error["message"]


def test_file_that_is_not_csv_text_is_400(api):
    response = api.post(
        "/api/v1/imports", {"file": _upload(b"PK\x03\x04\x14\x00\xff\xfe", "book.xlsx")}
    )

    assert response.status_code == 400
    assert "UTF-8" in response.json()["errors"][0]["message"]


def test_get_shows_progress_and_row_errors(api):
    contact_import = ContactImportFactory(
        status=ImportStatus.RUNNING,
        total_rows=10,
        processed_rows=5,
        created_count=4,
        error_count=1,
        errors=[{"row": 3, "errors": {"email": ["Enter a valid email address."]}}],
    )

    body = api.get(f"/api/v1/imports/{contact_import.pk}").json()

    assert body["id"] == contact_import.pk
    assert (body["status"], body["total_rows"], body["processed_rows"]) == ("running", 10, 5)
    assert (body["created_count"], body["updated_count"], body["error_count"]) == (4, 0, 1)
    assert body["errors"] == [{"row": 3, "errors": {"email": ["Enter a valid email address."]}}]
    assert "csv_text" not in body


def test_get_unknown_import_is_404(api):
    response = api.get("/api/v1/imports/999999")

    assert (response.status_code, response.json()) == (404, {"detail": "Not found."})


def test_list_is_paginated_newest_first_in_constant_queries(api, django_assert_num_queries):
    imports = ContactImportFactory.create_batch(3)
    api.get("/api/v1/imports")  # the key's first use stamps last_used_at and caches it

    # count + page
    with django_assert_num_queries(2):
        body = api.get("/api/v1/imports?page_size=2").json()

    assert body["count"] == 3 and body["next"] is not None
    assert [item["id"] for item in body["results"]] == [imports[2].pk, imports[1].pk]


def test_imports_need_an_api_key():
    response = APIClient().get("/api/v1/imports")

    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}


def test_drafts_of_the_web_pages_are_not_imports_of_the_api(api):
    started = ContactImportFactory()
    draft = ContactImportFactory(status=ImportStatus.DRAFT)

    listed = api.get("/api/v1/imports").json()
    detail = api.get(f"/api/v1/imports/{draft.pk}")

    assert [item["id"] for item in listed["results"]] == [started.pk]
    assert detail.status_code == 404
