"""CSV import pages: upload (with its form errors), column mapping, progress, error report."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from contacts.csv_import import contact_import_process, contact_import_upload
from contacts.models import Contact, ContactImport, ImportStatus
from tests.factories import CustomFieldFactory

pytestmark = pytest.mark.django_db


def _csv(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def _upload(client, data: bytes, name: str = "people.csv"):
    return client.post(reverse("contact-import"), {"file": SimpleUploadedFile(name, data)})


def test_upload_keeps_a_draft_and_shows_its_columns_with_suggested_fields(marketer_client):
    CustomFieldFactory(key="plan", label="Plan", type="text")

    response = _upload(marketer_client, "\ufeffE-mail;Plan;Notes\na@x.io;pro;hello\n".encode())

    draft = ContactImport.objects.get()
    assert draft.status == ImportStatus.DRAFT
    assert response.status_code == 302
    assert response.url == reverse("contact-import-detail", args=[draft.pk])
    page = marketer_client.get(response.url).content.decode()
    assert '<option value="email" selected>' in page
    assert '<option value="plan" selected>' in page
    assert '<option value="" selected>Choose…</option>' in page  # Notes: the marketer decides
    assert "hello" in page


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "The submitted file is empty"),
        (b"\n\n", "The file is empty"),
        (b"email\n", "no rows to import"),
        ("email\nJos\u00e9@x.io\n".encode("latin-1"), "not UTF-8"),
        (b"PK\x03\x04\x00\x00binary", "NUL characters"),
    ],
)
def test_empty_or_garbled_files_are_form_errors(marketer_client, data, message):
    response = _upload(marketer_client, data)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ContactImport.objects.exists()


def test_a_file_over_the_limit_is_a_form_error(marketer_client, settings):
    settings.CONTACT_IMPORT_MAX_BYTES = 10

    response = _upload(marketer_client, _csv("email", "a@x.io", "b@x.io"))

    assert response.status_code == 400
    assert "imports are limited to" in response.content.decode()


def test_starting_needs_every_column_chosen_then_queues_the_import(
    marketer_client, django_capture_on_commit_callbacks
):
    draft = contact_import_upload(data=_csv("email,Notes", "a@x.io,hi"), filename="a.csv")
    url = reverse("contact-import-detail", args=[draft.pk])

    refused = marketer_client.post(url, {"column_0": "email", "column_1": ""})
    assert refused.status_code == 400
    assert "Choose a field for this column, or Ignore." in refused.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        started = marketer_client.post(
            url, {"column_0": "email", "column_1": "__ignore__", "tags": "fair, vip"}
        )

    assert started.status_code == 302
    draft.refresh_from_db()
    assert (draft.status, draft.mapping, draft.tags) == (
        ImportStatus.DONE,
        {"email": "email", "Notes": ""},
        ["fair", "vip"],
    )
    assert sorted(t.name for t in Contact.objects.get().tags.all()) == ["fair", "vip"]


def test_a_mapping_the_import_refuses_is_shown_at_the_page(marketer_client):
    draft = contact_import_upload(data=_csv("email,Other", "a@x.io,b@x.io"))

    response = marketer_client.post(
        reverse("contact-import-detail", args=[draft.pk]),
        {"column_0": "email", "column_1": "email"},
    )

    assert response.status_code == 400
    assert "all map to &#x27;email&#x27;" in response.content.decode()
    draft.refresh_from_db()
    assert draft.status == ImportStatus.DRAFT


def test_progress_fragment_polls_until_the_import_is_finished(marketer_client, settings):
    settings.CONTACT_IMPORT_CHUNK_SIZE = 2
    draft = contact_import_upload(data=_csv("email", "a@x.io", "b@x.io", "c@x.io"))
    ContactImport.objects.filter(pk=draft.pk).update(
        status=ImportStatus.PENDING, mapping={"email": "email"}
    )
    url = reverse("contact-import-detail", args=[draft.pk])

    pending = marketer_client.get(url, headers={"HX-Request": "true"}).content.decode()
    contact_import_process(import_id=draft.pk)
    done = marketer_client.get(url, headers={"HX-Request": "true"}).content.decode()

    assert pending.startswith('<div id="import-progress"') and 'hx-trigger="every 1s"' in pending
    assert 'aria-valuenow="0"' in pending
    assert "hx-trigger" not in done and 'aria-valuenow="100"' in done
    assert "<html" not in done


def test_row_errors_are_listed_and_downloadable_with_their_values(marketer_client):
    CustomFieldFactory(key="seats", label="Seats", type="number")
    draft = contact_import_upload(
        data=_csv("email,Seats", "ok@x.io,1", "bad-email,2", "ok2@x.io,=many", "x@x.io,1,extra")
    )
    ContactImport.objects.filter(pk=draft.pk).update(
        status=ImportStatus.PENDING, mapping={"email": "email", "Seats": "seats"}
    )
    contact_import_process(import_id=draft.pk)

    page = marketer_client.get(reverse("contact-import-detail", args=[draft.pk])).content.decode()
    report = marketer_client.get(reverse("contact-import-errors", args=[draft.pk]))

    assert "Row errors" in page and "&#x27;=many&#x27; is not a number." in page
    assert report["Content-Type"] == "text/csv; charset=utf-8"
    lines = list(csv.reader(io.StringIO(report.content.decode("utf-8-sig"))))
    assert lines[0] == ["row", "column", "value", "message"]
    assert lines[1][:3] == ["2", "email", "bad-email"]
    assert lines[2] == ["3", "Seats", "'=many", "'=many' is not a number."]
    assert lines[3][:3] == ["4", "", ""] and "3 cells" in lines[3][3]


def test_upload_page_lists_recent_imports_and_the_contact_list_links_to_it(marketer_client):
    contact_import_upload(data=_csv("email", "a@x.io"), filename="spring-fair.csv")

    upload_page = marketer_client.get(reverse("contact-import")).content.decode()
    contacts_page = marketer_client.get(reverse("contact-list")).content.decode()

    assert "spring-fair.csv" in upload_page and "not started" in upload_page
    assert f'href="{reverse("contact-import")}"' in contacts_page


def test_import_pages_need_the_marketer_role(client, django_user_model):
    user = django_user_model.objects.create_user(username="nobody", password="x-9-long-pass")
    client.force_login(user)

    assert client.get(reverse("contact-import")).status_code == 403
