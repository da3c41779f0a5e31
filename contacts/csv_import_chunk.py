"""Writing one chunk of CSV rows: set-based on PostgreSQL, row by row elsewhere.

The set-based writer cleans every row with the normalisers of `contact_input_clean` (the one
cleaning step of every contact write path, so values and messages are those of the API),
column by column (contacts.csv_import_rows), then applies the rows
with a few statements (contacts.import_postgresql) and announces the changed contacts once per
kind of change. It keeps the row-by-row writer's results exactly:

* Rows are applied in file order. Rows with the same identity (email and external_id alike)
  merge: a later non-blank cell overrides an earlier one, tags add up; so within a file the
  last row wins. The first of them counts as created when the contact is new, the rest as
  updated. A row naming an identity already taken in the batch in another combination starts
  a new batch, so it sees what the rows before it wrote.
* Identity rules are contact_upsert's: external_id identifies first, then email; a row whose
  email and external_id point at two different contacts is an error on that row.
* Anything the database refuses (a value it cannot store, a contact a concurrent writer just
  created) rolls the chunk back to its savepoint and redoes it row by row, which names the row.
"""

import functools
import gc
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.db import DataError, IntegrityError, connection, transaction
from django.utils import timezone

from contacts import import_postgresql
from contacts.contact_input import CleanContact, contact_input_clean
from contacts.csv_files import CsvRow
from contacts.csv_import_rows import RowCleaner
from contacts.csv_mapping import RowReader
from contacts.import_postgresql import COLUMNS
from contacts.ingest_postgresql import contacts_by_identity
from contacts.models import CustomField
from contacts.services import contact_upsert
from contacts.signals import contacts_changed_coalesced, notify_contacts_changed
from contacts.tags import tags_get_or_create
from segflow.errors import InvalidInput

NO_IDENTITY = {"email": ["Give an email or an external_id."]}
_json = json.JSONEncoder(ensure_ascii=False).encode


@dataclass
class ChunkResult:
    created: int = 0
    updated: int = 0
    errors: list[tuple[int, dict[str, list[str]]]] = field(default_factory=list)  # (row, ...)


@dataclass(slots=True)
class _Entry:
    """The rows of one identity within a batch, merged in file order."""

    email: str | None
    external_id: str | None
    rows: list[int]
    values: dict[str, object]
    fields: dict[str, object]
    tags: list[str]
    kinds: frozenset[str]

    @classmethod
    def of(cls, number: int, clean: CleanContact) -> "_Entry":
        """An entry of one row, holding the row's own dicts (merge() changes them: a cleaned
        row is used once)."""
        values = clean.values
        return cls(
            values.get("email"),
            values.get("external_id"),
            [number],
            values,
            clean.fields if clean.fields is not None else {},
            clean.tags if clean.tags is not None else [],
            _kinds(clean),
        )

    def merge(self, number: int, clean: CleanContact) -> None:
        self.rows.append(number)
        self.values.update(clean.values)
        self.fields.update(clean.fields or {})
        self.tags.extend(clean.tags or [])
        self.kinds |= _kinds(clean)

    def as_row(self, key: int) -> tuple:
        return (
            key,
            *(self.values.get(column) for column in COLUMNS),
            _json(self.fields),
        )


class _Retry(Exception):
    """The set-based write cannot finish (a concurrent writer got in): redo row by row."""


@functools.cache
def _kinds_of(values: tuple[str, ...], fields: tuple[str, ...], tags: bool) -> frozenset[str]:
    kinds = {f"field:{key}" for key in values} | {f"fields.{key}" for key in fields}
    return frozenset(kinds | {"tags"} if tags else kinds)


def _kinds(clean: CleanContact) -> frozenset[str]:
    """What a row changes, as contacts_changed names it (a few shapes per file: cached)."""
    return _kinds_of(tuple(clean.values), tuple(clean.fields or ()), bool(clean.tags))


def _clean_rows(
    rows: list[CsvRow],
    reader: RowReader,
    definitions: Mapping[str, CustomField],
    result: ChunkResult,
) -> list[tuple[int, CleanContact]]:
    cleaner = RowCleaner(reader=reader, definitions=definitions)
    clean_rows = []
    for row in rows:
        errors = reader.width_error(row.cells)
        if errors is None:
            clean, input_errors = cleaner.clean(row.cells)
            if clean is None:
                errors = reader.column_errors(input_errors)
            elif clean.values.get("email") or clean.values.get("external_id"):
                clean_rows.append((row.number, clean))
                continue
            else:
                errors = reader.column_errors(NO_IDENTITY)
        result.errors.append((row.number, errors))
    return clean_rows


def _batches(clean_rows: list[tuple[int, CleanContact]]) -> list[list[_Entry]]:
    """Entries by identity, in batches where no email or external_id appears twice."""
    batches: list[list[_Entry]] = []
    entries: dict[tuple, _Entry] = {}
    emails: set[str] = set()
    external_ids: set[str] = set()
    for number, clean in clean_rows:
        email, external_id = clean.values.get("email"), clean.values.get("external_id")
        entry = entries.get((email, external_id))
        if entry is not None:
            entry.merge(number, clean)
            continue
        if (email and email in emails) or (external_id and external_id in external_ids):
            batches.append(list(entries.values()))
            entries, emails, external_ids = {}, set(), set()
        entries[(email, external_id)] = _Entry.of(number, clean)
        if email:
            emails.add(email)
        if external_id:
            external_ids.add(external_id)
    if entries:
        batches.append(list(entries.values()))
    return batches


def _resolve(
    entry: _Entry, by_email: dict, by_external_id: dict
) -> tuple[int | None, dict[str, list[str]] | None]:
    """(contact id the entry updates or None to create one, None) or (None, identity error)."""
    email, external_id = entry.email, entry.external_id
    if external_id and external_id in by_external_id:
        contact_id, stored_email, _ = by_external_id[external_id]
        owner = by_email.get(email) if email and email != stored_email else None
        if owner is not None and owner[0] != contact_id:
            message = (
                f"Contact {owner[0]} already has this email, but external_id "
                f"'{external_id}' belongs to contact {contact_id}."
            )
            return None, {"email": [message]}
        return contact_id, None
    if email and email in by_email:
        contact_id, _, stored_external_id = by_email[email]
        if external_id and stored_external_id not in (None, external_id):
            message = (
                f"This email belongs to contact {contact_id}, whose external_id "
                f"is '{stored_external_id}'."
            )
            return None, {"external_id": [message]}
        return contact_id, None
    return None, None


def _write_batch(
    entries: list[_Entry], reader: RowReader, result: ChunkResult, changed: dict
) -> list[_Entry]:
    """Apply a batch; the entries left for a next batch (a contact two entries both reach)."""
    now = timezone.now()
    found = contacts_by_identity(
        emails=[e.email for e in entries if e.email],
        external_ids=[e.external_id for e in entries if e.external_id],
    )
    by_email = {row[1]: row for row in found if row[1] is not None}
    by_external_id = {row[2]: row for row in found if row[2] is not None}
    updates: dict[int, _Entry] = {}
    creates: list[_Entry] = []
    later: list[_Entry] = []
    for entry in entries:
        target, identity_error = _resolve(entry, by_email, by_external_id)
        if identity_error:
            errors = reader.column_errors(identity_error)
            result.errors.extend((number, errors) for number in entry.rows)
        elif target is None:
            creates.append(entry)
        elif target in updates:
            later.append(entry)
        else:
            updates[target] = entry
    changed_ids = import_postgresql.contacts_update(
        rows=[entry.as_row(pk) for pk, entry in updates.items()], now=now
    )
    created = import_postgresql.contacts_insert(
        rows=[entry.as_row(key) for key, entry in enumerate(creates)], now=now
    )
    if len(created) != len(creates):
        raise _Retry
    ids = {(email, external_id): pk for pk, email, external_id in created}
    targets = dict(updates)
    targets.update({ids[(entry.email, entry.external_id)]: entry for entry in creates})
    changed_ids.update(ids.values())
    changed_ids |= _write_tags(targets, now)
    for pk in changed_ids:
        changed.setdefault(targets[pk].kinds, []).append(pk)
    result.created += len(creates)
    result.updated += sum(len(entry.rows) for entry in targets.values()) - len(creates)
    return later


def _write_tags(targets: dict[int, _Entry], now) -> set[int]:
    pairs = [(pk, name) for pk, entry in targets.items() for name in entry.tags]
    if not pairs:
        return set()
    tags_get_or_create(dict.fromkeys(name for _, name in pairs))
    return import_postgresql.contact_tags_insert(
        contact_ids=[pk for pk, _ in pairs], names=[name for _, name in pairs], now=now
    )


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Writing a chunk allocates a few objects per cell and frees none until its end: the cycle
    collector would run every 700 allocations and walk all of them each time (a third of the
    cleaning time). Reference counting frees them all the same; they hold no cycles."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def chunk_write_set_based(
    rows: list[CsvRow], reader: RowReader, definitions: Mapping[str, CustomField]
) -> ChunkResult:
    """Write a chunk with a few statements per batch (PostgreSQL); row by row if it fails."""
    result = ChunkResult()
    changed: dict[frozenset[str], list[int]] = {}
    try:
        with _no_cycle_collection(), transaction.atomic(), import_postgresql.index_probes():
            pending = _batches(_clean_rows(rows, reader, definitions, result))
            while pending:
                later = _write_batch(pending.pop(0), reader, result, changed)
                if later:
                    pending.insert(0, later)
    except (_Retry, IntegrityError, DataError):
        return chunk_write_row_by_row(rows, reader, definitions)
    for kinds, ids in changed.items():
        notify_contacts_changed(ids, kinds)
    result.errors.sort(key=lambda item: item[0])
    return result


def _write_row(
    row: CsvRow, reader: RowReader, definitions: Mapping[str, CustomField]
) -> tuple[bool | None, dict[str, list[str]]]:
    """Upsert one row: (created, {}) or (None, {column: [messages]})."""
    width_error = reader.width_error(row.cells)
    if width_error:
        return None, width_error
    try:
        clean = contact_input_clean(reader.data(row.cells), definitions=definitions)
        _, created = contact_upsert(values=clean.values, fields=clean.fields, tags=clean.tags)
    except InvalidInput as exc:
        return None, reader.column_errors(exc.errors)
    except (IntegrityError, DataError) as exc:
        return None, {"": [f"The database refused this row: {str(exc).splitlines()[0]}"]}
    return created, {}


def chunk_write_row_by_row(
    rows: list[CsvRow], reader: RowReader, definitions: Mapping[str, CustomField]
) -> ChunkResult:
    """One upsert per row through contact_upsert (SQLite, and the set-based writer's fallback)."""
    result = ChunkResult()
    with contacts_changed_coalesced():
        for row in rows:
            created, errors = _write_row(row, reader, definitions)
            if errors:
                result.errors.append((row.number, errors))
            elif created:
                result.created += 1
            else:
                result.updated += 1
    return result


def chunk_write(
    rows: list[CsvRow], reader: RowReader, definitions: Mapping[str, CustomField]
) -> ChunkResult:
    """Write a chunk inside the caller's transaction (the one that records its progress)."""
    if connection.vendor == "postgresql":
        import_postgresql.commit_without_waiting_for_disk()
        return chunk_write_set_based(rows, reader, definitions)
    return chunk_write_row_by_row(rows, reader, definitions)
