"""Celery tasks of the contacts app: thin wrappers that take ids and call a service."""

from celery import shared_task

from contacts.csv_import import contact_import_process, contact_imports_reset_stuck


@shared_task
def process_contact_import(import_id: int) -> None:
    contact_import_process(import_id=import_id)


@shared_task
def reset_stuck_imports() -> None:
    contact_imports_reset_stuck()
