"""CSV import of contacts: create an import, process it in chunks, recover stuck ones.

Each chunk's upserts and the progress it adds to the ContactImport row commit in one
transaction, so a crash never leaves a half-counted chunk and processing resumes at
`processed_rows`. The worker holding an import is the one whose `claimed_at` is on the row:
every chunk locks the row, checks it and stamps a new `claimed_at`, so a worker whose claim
was reset stops before writing anything.
"""

import datetime as dt
import itertools
from collections.abc import Callable, Mapping

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from contacts import builtins
from contacts.csv_files import (
    CsvFile,
    CsvRow,
    csv_decode,
    csv_file_check,
    csv_filename_clean,
    csv_size_check,
)
from contacts.csv_import_chunk import chunk_write
from contacts.csv_mapping import RowReader, column_mapping_resolve, column_mapping_suggest
from contacts.field_types import field_definitions
from contacts.models import ContactImport, CustomField, ImportStatus
from segflow.errors import ErrorCollector, InvalidInput
from segflow.json_input import find_unstorable_string
from segflow.queue import enqueue_on_commit

MAX_STORED_ERRORS = 1000
DRAFT_KEPT_FOR = dt.timedelta(days=1)
_PROGRESS_FIELDS = [
    "status",
    "processed_rows",
    "created_count",
    "updated_count",
    "error_count",
    "errors",
    "claimed_at",
    "finished_at",
]


def _import_tags(names: list[str]) -> list[str]:
    errors = ErrorCollector()
    clean: dict[str, str] = {}
    for index, name in enumerate(names):
        try:
            tag = builtins.normalize_tag_name(name)
        except ValueError as exc:
            errors.add(f"tags[{index}]", str(exc))
        else:
            clean.setdefault(tag.lower(), tag)
    errors.raise_if_any()
    return list(clean.values())


def contact_import_create(
    *,
    data: bytes,
    filename: str = "",
    mapping: Mapping[str, object] | None = None,
    tags: list[str] | None = None,
) -> ContactImport:
    """Check the file and its column mapping, and store the import (pending). The API's upload
    and the import_contacts command both come here.

    Raises InvalidInput, naming every problem, when the file cannot be imported at all:
    too large, not UTF-8 CSV, no header or rows, unmapped columns, unknown field keys.
    """
    if find_unstorable_string(mapping or {}) is not None:
        raise InvalidInput.single("mapping", "Contains a NUL character or an invalid code point.")
    csv_file, total_rows, filled_columns = _checked_file(data)
    resolved = column_mapping_resolve(
        header=csv_file.header,
        explicit={str(column).strip(): key for column, key in (mapping or {}).items()},
        definitions=field_definitions(),
        filled_columns=filled_columns,
    )
    return ContactImport.objects.create(
        filename=csv_filename_clean(filename),
        csv_text=csv_file.text,
        mapping=resolved,
        tags=_import_tags(tags or []),
        total_rows=total_rows,
    )


def _checked_file(data: bytes) -> tuple[CsvFile, int, set[int]]:
    csv_size_check(size=len(data))
    csv_file = CsvFile(csv_decode(data))
    total_rows, filled_columns = csv_file_check(csv_file)
    if total_rows == 0:
        raise InvalidInput.single("file", "The file has a header but no rows to import.")
    return csv_file, total_rows, filled_columns


def contact_import_upload(*, data: bytes, filename: str = "") -> ContactImport:
    """Check the file and keep it as a draft whose columns the marketer maps next (web pages):
    its `mapping` holds the suggested key of each column ("" when none is suggested)."""
    csv_file, total_rows, _ = _checked_file(data)
    suggested = column_mapping_suggest(header=csv_file.header, definitions=field_definitions())
    return ContactImport.objects.create(
        filename=csv_filename_clean(filename),
        csv_text=csv_file.text,
        mapping={column: key or "" for column, key in suggested.items()},
        status=ImportStatus.DRAFT,
        total_rows=total_rows,
    )


def contact_import_start(
    *, import_id: int, mapping: Mapping[str, object], tags: list[str] | None = None
) -> ContactImport:
    """Map a draft's columns and queue it (after commit); InvalidInput as contact_import_create
    names them, and when the import is no longer a draft."""
    with transaction.atomic():
        contact_import = ContactImport.objects.select_for_update().get(pk=import_id)
        if contact_import.status != ImportStatus.DRAFT:
            raise InvalidInput.single("", "This import has already been started.")
        csv_file = CsvFile(contact_import.csv_text)
        _, filled_columns = csv_file_check(csv_file)
        contact_import.mapping = column_mapping_resolve(
            header=csv_file.header,
            explicit={str(column).strip(): key for column, key in mapping.items()},
            definitions=field_definitions(),
            filled_columns=filled_columns,
        )
        contact_import.tags = _import_tags(tags or [])
        contact_import.status = ImportStatus.PENDING
        contact_import.created_at = timezone.now()
        contact_import.save(update_fields=["mapping", "tags", "status", "created_at"])
        contact_import_enqueue(import_id=contact_import.pk)
    return contact_import


def contact_import_drafts_purge(*, now: dt.datetime | None = None) -> int:
    """Delete drafts left unstarted for a day (each holds its whole file)."""
    cutoff = (now or timezone.now()) - DRAFT_KEPT_FOR
    deleted, _ = ContactImport.objects.filter(
        status=ImportStatus.DRAFT, created_at__lt=cutoff
    ).delete()
    return deleted


def contact_import_enqueue(*, import_id: int) -> None:
    """Process the import on a worker once the current transaction commits (the row stays
    pending if the broker is down: contact_imports_reset_stuck enqueues it again)."""
    enqueue_on_commit("contacts.tasks.process_contact_import", import_id)


def _claim(import_id: int) -> dt.datetime | None:
    claimed_at = timezone.now()
    won = ContactImport.objects.filter(pk=import_id, status=ImportStatus.PENDING).update(
        status=ImportStatus.RUNNING, claimed_at=claimed_at
    )
    return claimed_at if won else None


def _process_chunk(
    *,
    import_id: int,
    claimed_at: dt.datetime,
    rows: list[CsvRow],
    reader: RowReader,
    definitions: Mapping[str, CustomField],
) -> ContactImport | None:
    """Import `rows` and record them on the import, atomically; None when the claim is lost."""
    with transaction.atomic():
        contact_import = (
            ContactImport.objects.select_for_update().defer("csv_text").get(pk=import_id)
        )
        if contact_import.status != ImportStatus.RUNNING or contact_import.claimed_at != claimed_at:
            return None
        written = chunk_write(rows, reader, definitions)
        contact_import.created_count += written.created
        contact_import.updated_count += written.updated
        contact_import.error_count += len(written.errors)
        room = MAX_STORED_ERRORS - len(contact_import.errors)
        contact_import.errors.extend(
            {"row": number, "errors": errors} for number, errors in written.errors[: max(room, 0)]
        )
        contact_import.processed_rows += len(rows)
        contact_import.claimed_at = timezone.now()
        if not rows or contact_import.processed_rows >= contact_import.total_rows:
            contact_import.status = ImportStatus.DONE
            contact_import.finished_at = contact_import.claimed_at
        contact_import.save(update_fields=_PROGRESS_FIELDS)
    return contact_import


def contact_import_process(
    *,
    import_id: int,
    on_progress: Callable[[ContactImport], None] | None = None,
) -> ContactImport | None:
    """Claim a pending import and run it to the end, resuming at `processed_rows`.

    Returns the finished import, or None when another worker holds it (or it is finished).
    """
    claimed_at = _claim(import_id)
    if claimed_at is None:
        return None
    contact_import = ContactImport.objects.get(pk=import_id)
    try:
        csv_file = CsvFile(contact_import.csv_text)
        reader = RowReader(
            header=csv_file.header, mapping=contact_import.mapping, tags=contact_import.tags
        )
        definitions = field_definitions()
        rows = itertools.islice(csv_file.rows(), contact_import.processed_rows, None)
        chunk_size = settings.CONTACT_IMPORT_CHUNK_SIZE
        while True:
            chunk = list(itertools.islice(rows, chunk_size))
            progress = _process_chunk(
                import_id=import_id,
                claimed_at=claimed_at,
                rows=chunk,
                reader=reader,
                definitions=definitions,
            )
            if progress is None:
                return None
            claimed_at = progress.claimed_at
            if on_progress is not None:
                on_progress(progress)
            if progress.status == ImportStatus.DONE:
                return progress
    except Exception as exc:
        # A bug or a file we cannot read: fail the import (reported to the user) rather than
        # have the stuck-import reset retry it forever. Only our own claim is failed.
        ContactImport.objects.filter(pk=import_id, claimed_at=claimed_at).update(
            status=ImportStatus.FAILED, failure=f"{type(exc).__name__}: {exc}"[:2000]
        )
        raise


def contact_import_abandon(*, import_id: int, reason: str) -> bool:
    """Mark an unfinished import failed (its committed chunks stay imported)."""
    return bool(
        ContactImport.objects.filter(
            pk=import_id, status__in=[ImportStatus.PENDING, ImportStatus.RUNNING]
        ).update(status=ImportStatus.FAILED, failure=reason, claimed_at=None)
    )


def contact_imports_reset_stuck(*, now: dt.datetime | None = None) -> list[int]:
    """Re-enqueue imports whose worker went silent (claim older than the timeout) and pending
    ones whose task was lost. Rows being processed right now are locked and skipped."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(seconds=settings.CONTACT_IMPORT_STUCK_AFTER)
    stuck = Q(status=ImportStatus.RUNNING, claimed_at__lt=cutoff) | Q(
        status=ImportStatus.PENDING, created_at__lt=cutoff
    )
    with transaction.atomic():
        import_ids = list(
            ContactImport.objects.select_for_update(skip_locked=True)
            .filter(stuck)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        ContactImport.objects.filter(pk__in=import_ids).update(
            status=ImportStatus.PENDING, claimed_at=None
        )
        for import_id in import_ids:
            contact_import_enqueue(import_id=import_id)
    return import_ids
