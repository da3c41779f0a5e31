"""Tags: case-insensitive names, created on first use.

The per-contact writers here do not announce the change: their caller (contacts.services)
announces a write once, tags and fields together. The many-contact writers (flow steps)
announce their own change."""

from collections.abc import Iterable

from django.db import connection
from django.db.models.functions import Lower

from contacts.models import Contact, ContactTag, Tag
from contacts.signals import notify_contacts_changed


def _lower_keys(names: list[str]) -> list[str]:
    """Each name lower-cased the way the database's unique index does it. Python agrees for
    ASCII; beyond it they differ ("ΟΔΟΣ": Python "οδος", PostgreSQL "οδοσ"), so ask the
    database then."""
    if all(name.isascii() for name in names):
        return [name.lower() for name in names]
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(["LOWER(%s)"] * len(names)), names)
        return list(cursor.fetchone())


def tags_get_or_create(names: Iterable[str]) -> list[Tag]:
    names = list(names)
    if not names:
        return []
    wanted: dict[str, str] = {}
    for key, name in zip(_lower_keys(names), names, strict=True):
        wanted.setdefault(key, name)

    def existing() -> dict[str, Tag]:
        rows = Tag.objects.annotate(lower_name=Lower("name")).filter(lower_name__in=wanted)
        return {tag.lower_name: tag for tag in rows}

    found = existing()
    missing = [Tag(name=name) for lower, name in wanted.items() if lower not in found]
    if missing:
        # A concurrent writer may create the same tag: the unique index decides, we re-read.
        Tag.objects.bulk_create(missing, ignore_conflicts=True)
        found = existing()
    return [found[lower] for lower in wanted]


def contact_tags_add(*, contact: Contact, names: Iterable[str]) -> None:
    tags = tags_get_or_create(names)
    ContactTag.objects.bulk_create(
        [ContactTag(contact=contact, tag=tag) for tag in tags], ignore_conflicts=True
    )


def contact_tags_set(*, contact: Contact, names: Iterable[str]) -> None:
    tags = tags_get_or_create(names)
    ContactTag.objects.filter(contact=contact).exclude(tag__in=tags).delete()
    ContactTag.objects.bulk_create(
        [ContactTag(contact=contact, tag=tag) for tag in tags], ignore_conflicts=True
    )


def contact_tags_add_many(*, contact_ids: Iterable[int], names: Iterable[str]) -> None:
    """Add tags to many contacts in one statement and announce "tags" (set-based writers,
    e.g. a flow's tag step; the per-contact writers above leave announcing to their caller)."""
    ids = sorted(set(contact_ids))
    tags = tags_get_or_create(names)
    if not ids or not tags:
        return
    ContactTag.objects.bulk_create(
        [ContactTag(contact_id=contact_id, tag=tag) for contact_id in ids for tag in tags],
        ignore_conflicts=True,
    )
    notify_contacts_changed(ids, ["tags"])


def contact_tags_remove(*, contact_ids: Iterable[int], names: Iterable[str]) -> None:
    """Remove tags (by name, case-insensitively) from contacts and announce "tags"."""
    ids = sorted(set(contact_ids))
    names = list(names)
    if not ids or not names:
        return
    keys = _lower_keys(names)
    ContactTag.objects.filter(contact_id__in=ids, tag__in=_tags_named(keys)).delete()
    notify_contacts_changed(ids, ["tags"])


def _tags_named(lower_names: list[str]):
    return Tag.objects.annotate(lower_name=Lower("name")).filter(lower_name__in=lower_names)
