"""A segment's members as CSV (/segments/<id>/export.csv), streamed.

The rows are read in chunks by id (keyset: each chunk is one indexed range read, the tags of
its contacts one more query) and written as they come, so memory stays the same for 100 or
1,000,000 members. Columns: the built-in fields, then every custom field by key (as the CSV
import reads them back), then the tags comma-separated. A text cell that a spreadsheet would
run as a formula (starting with = + - @, tab or carriage return) is prefixed with ' ; plain
numbers such as -5 are left as they are.
"""

import csv
import datetime as dt
import re
from collections.abc import Iterator

from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.utils.text import slugify
from django.views.decorators.http import require_GET

from accounts.roles import MARKETER, role_required
from contacts.models import Contact, CustomField
from segments.models import Segment, SegmentMembership

BUILTIN_COLUMNS = (
    "id",
    "email",
    "first_name",
    "last_name",
    "country",
    "timezone",
    "external_id",
    "email_status",
    "lead_score",
    "created_at",
)
CHUNK_SIZE = 2000
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")


def csv_cell(value: object) -> str:
    """A value as a CSV cell a spreadsheet shows as text, never runs as a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, list | dict):
        value = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    text = str(value)
    if text.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


class _Echo:
    """A file-like object whose write returns what it was given (csv.writer -> strings)."""

    def write(self, value: str) -> str:
        return value


def segment_member_chunks(*, segment: Segment, size: int = CHUNK_SIZE) -> Iterator[list[Contact]]:
    """Current members by id, `size` at a time, each chunk with its tags."""
    members = SegmentMembership.objects.current().filter(segment=segment).values("contact_id")
    contacts = Contact.objects.filter(pk__in=members).order_by("pk").prefetch_related("tags")
    after = 0
    while True:
        chunk = list(contacts.filter(pk__gt=after)[:size])
        if not chunk:
            return
        yield chunk
        after = chunk[-1].pk


def segment_csv_lines(*, segment: Segment, chunk_size: int = CHUNK_SIZE) -> Iterator[str]:
    keys = list(CustomField.objects.order_by("key").values_list("key", flat=True))
    writer = csv.writer(_Echo())
    yield writer.writerow([*BUILTIN_COLUMNS, *keys, "tags"])
    for chunk in segment_member_chunks(segment=segment, size=chunk_size):
        lines = []
        for contact in chunk:
            tags = sorted((tag.name for tag in contact.tags.all()), key=str.lower)
            row = [getattr(contact, column) for column in BUILTIN_COLUMNS]
            row += [contact.fields.get(key) for key in keys]
            lines.append(writer.writerow([csv_cell(value) for value in [*row, tags]]))
        yield "".join(lines)


@role_required(MARKETER)
@require_GET
def segment_export_csv(request, pk: int):
    segment = get_object_or_404(Segment, pk=pk)
    filename = f"segment-{segment.pk}-{slugify(segment.name) or 'members'}.csv"
    response = StreamingHttpResponse(
        segment_csv_lines(segment=segment), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
