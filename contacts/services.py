"""Writes to contacts. Input arrives cleaned (contacts.contact_input, shared by the API, CSV
import and admin); these functions enforce identity rules and announce each change."""

from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction

from contacts.field_types import apply_field_changes
from contacts.models import Contact
from contacts.signals import notify_contacts_changed, notify_contacts_deleting
from contacts.tags import contact_tags_add, contact_tags_set
from segflow.errors import InvalidInput

UPSERT_ATTEMPTS = 3


def _changes_of(
    values: Mapping[str, Any], fields: Mapping[str, Any] | None, tags: list[str] | None
) -> set[str]:
    changes = {f"field:{key}" for key in values} | {f"fields.{key}" for key in fields or {}}
    return changes | {"tags"} if tags is not None else changes


def _find_for_upsert(email: str | None, external_id: str | None) -> Contact | None:
    """external_id identifies first, then email; a contradiction is a client error."""
    locked = Contact.objects.select_for_update()
    if external_id:
        contact = locked.filter(external_id=external_id).first()
        if contact is not None:
            if email and contact.email != email:
                owner = Contact.objects.filter(email=email).exclude(pk=contact.pk).first()
                if owner is not None:
                    raise InvalidInput.single(
                        "email",
                        f"Contact {owner.pk} already has this email, but external_id "
                        f"'{external_id}' belongs to contact {contact.pk}.",
                    )
            return contact
    if email:
        contact = locked.filter(email=email).first()
        if contact is not None and external_id and contact.external_id not in (None, external_id):
            raise InvalidInput.single(
                "external_id",
                f"This email belongs to contact {contact.pk}, whose external_id is "
                f"'{contact.external_id}'.",
            )
        return contact
    return None


def contact_upsert(
    *,
    values: Mapping[str, Any],
    fields: Mapping[str, Any] | None = None,
    tags: list[str] | None = None,
) -> tuple[Contact, bool]:
    """Create or update the contact identified by external_id or email.

    `values` holds validated built-in columns, `fields` validated custom values (None removes a
    key), `tags` names to add (an upsert never removes tags). Returns (contact, created).
    """
    email, external_id = values.get("email"), values.get("external_id")
    if not email and not external_id:
        raise InvalidInput.single("email", "Give an email or an external_id.")
    for attempt in range(UPSERT_ATTEMPTS):
        try:
            with transaction.atomic():
                contact = _find_for_upsert(email, external_id)
                created = contact is None
                if contact is None:
                    contact = Contact(fields=apply_field_changes({}, fields or {}))
                else:
                    contact.fields = apply_field_changes(contact.fields, fields or {})
                for key, value in values.items():
                    setattr(contact, key, value)
                contact.save()
                if tags:
                    contact_tags_add(contact=contact, names=tags)
                notify_contacts_changed([contact.pk], _changes_of(values, fields, tags))
                return contact, created
        except IntegrityError:
            # A concurrent upsert created the same email/external_id first: look again.
            if attempt == UPSERT_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def contact_update(
    *,
    contact: Contact,
    values: Mapping[str, Any],
    fields: Mapping[str, Any] | None = None,
    tags: list[str] | None = None,
) -> Contact:
    """Partial update of one contact; `tags`, when given, replaces the contact's tags."""
    with transaction.atomic():
        contact = Contact.objects.select_for_update().get(pk=contact.pk)
        for key, value in values.items():
            setattr(contact, key, value)
        if not contact.email and not contact.external_id:
            raise InvalidInput.single("email", "A contact needs an email or an external_id.")
        for key in ("email", "external_id"):
            value = values.get(key)
            if value and Contact.objects.filter(**{key: value}).exclude(pk=contact.pk).exists():
                raise InvalidInput.single(key, f"Another contact already has this {key}.")
        contact.fields = apply_field_changes(contact.fields, fields or {})
        try:
            with transaction.atomic():
                contact.save()
        except IntegrityError:
            raise InvalidInput.single("email", "Another contact already has this email.") from None
        if tags is not None:
            contact_tags_set(contact=contact, names=tags)
        notify_contacts_changed([contact.pk], _changes_of(values, fields, tags))
    return contact


def contact_delete(*, contact: Contact) -> None:
    with transaction.atomic():
        notify_contacts_deleting([contact.pk])
        contact.delete()
