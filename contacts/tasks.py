"""Celery tasks of the contacts app: thin wrappers that take ids and call a service."""

from celery import shared_task

from contacts.csv_import import (
    contact_import_drafts_purge,
    contact_import_process,
    contact_imports_reset_stuck,
)
from contacts.subscription_confirmation import subscription_confirmation_send


@shared_task
def process_contact_import(import_id: int) -> None:
    contact_import_process(import_id=import_id)


@shared_task
def reset_stuck_imports() -> None:
    """Housekeeping of imports: hand stuck ones to a worker again, drop abandoned drafts."""
    contact_imports_reset_stuck()
    contact_import_drafts_purge()


@shared_task
def send_subscription_confirmation(contact_id: int, topic_id: int) -> None:
    subscription_confirmation_send(contact_id=contact_id, topic_id=topic_id)
