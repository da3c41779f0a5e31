"""CSV imports processed by a real Celery worker process on Redis, including one killed
mid-import."""

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from contacts.csv_import import (
    contact_import_create,
    contact_import_enqueue,
    contact_imports_reset_stuck,
)
from contacts.models import Contact, ContactImport, ImportStatus

pytestmark = pytest.mark.integration

WAIT_SECONDS = 120


def _wait_for(predicate, what: str, worker, *, timeout: float = WAIT_SECONDS):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"Timed out waiting for {what}. Worker log:\n{worker.log()}")


def _finished(import_id: int) -> ContactImport | None:
    contact_import = ContactImport.objects.get(pk=import_id)
    return contact_import if contact_import.status == ImportStatus.DONE else None


def test_import_posted_through_the_api_is_processed_by_the_worker(celery_worker_process, api):
    data = b"email,first_name\nann@example.com,Ann\nbob@example.com,Bob\n"

    response = api.post(
        "/api/v1/imports",
        {"file": SimpleUploadedFile("people.csv", data), "tags": ["fair"]},
        format="multipart",
    )

    assert response.status_code == 202, response.json()
    result = _wait_for(
        lambda: _finished(response.json()["id"]), "the import", celery_worker_process
    )
    assert (result.created_count, result.updated_count, result.error_count) == (2, 0, 0)
    assert set(Contact.objects.values_list("email", "first_name")) == {
        ("ann@example.com", "Ann"),
        ("bob@example.com", "Bob"),
    }
    assert Contact.objects.filter(tags__name="fair").count() == 2


def test_import_survives_its_worker_being_killed_mid_import(celery_worker_process, settings):
    # given: an import of distinct contacts, large enough to take several chunks
    rows = 3000
    lines = ["email,first_name,last_name"] + [f"k{n}@example.com,K{n},Lee" for n in range(rows)]
    contact_import = contact_import_create(data="\n".join(lines).encode())
    contact_import_enqueue(import_id=contact_import.pk)

    # when: the worker is killed while the import is part-way through, and comes back
    def part_way():
        done = ContactImport.objects.values_list("processed_rows", flat=True).get(
            pk=contact_import.pk
        )
        return 0 < done < rows

    _wait_for(part_way, "the first chunk", celery_worker_process)
    celery_worker_process.kill()
    killed_at = ContactImport.objects.get(pk=contact_import.pk)
    assert killed_at.status == ImportStatus.RUNNING and killed_at.processed_rows < rows
    celery_worker_process.start()
    settings.CONTACT_IMPORT_STUCK_AFTER = 1
    # (the beat task, run here: once the claim is older than the timeout it re-enqueues)
    _wait_for(
        lambda: contact_imports_reset_stuck() == [contact_import.pk],
        "the stuck import to be reset",
        celery_worker_process,
    )

    # then: it completes with every row imported exactly once
    result = _wait_for(
        lambda: _finished(contact_import.pk), "the import to finish", celery_worker_process
    )
    assert (result.processed_rows, result.created_count) == (rows, rows)
    assert (result.updated_count, result.error_count) == (0, 0)
    assert Contact.objects.count() == rows
    assert result.finished_at <= timezone.now()
