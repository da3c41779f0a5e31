"""A segment's members as CSV (/segments/<id>/export.csv), streamed.

The rows are read in chunks by contact id (keyset: each chunk is one range read of the
current-stays index, its contacts by primary key and their tags: three indexed queries) and
written as they come, so memory stays the same for 100 or
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
from contacts.models import Contact, ContactTag, CustomField
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


def segment_member_chunks(
    *, segment: Segment, size: int = CHUNK_SIZE
) -> Iterator[list[tuple[tuple, list[str]]]]:
    """Current members by id, `size` at a time: (BUILTIN_COLUMNS values + the fields dict,
    tag names) each. Each chunk is a range read of the (segment, contact) index of current
    stays after the last id, then its contacts and their tags by contact id: the same cost
    for the first chunk and the last, and plain tuples rather than model instances."""
    stays = SegmentMembership.objects.current().filter(segment=segment).order_by("contact_id")
    after = 0
    while True:
        ids = list(stays.filter(contact_id__gt=after).values_list("contact_id", flat=True)[:size])
        if not ids:
            return
        rows = Contact.objects.filter(pk__in=ids).order_by("pk")
        tags: dict[int, list[str]] = {}
        for contact_id, name in ContactTag.objects.filter(contact_id__in=ids).values_list(
            "contact_id", "tag__name"
        ):
            tags.setdefault(contact_id, []).append(name)
        chunk = [
            (row, sorted(tags.get(row[0], []), key=str.lower))
            for row in rows.values_list(*BUILTIN_COLUMNS, "fields")
        ]
        if chunk:  # empty when every contact of the chunk was deleted meanwhile
            yield chunk
        after = ids[-1]


def segment_csv_lines(*, segment: Segment, chunk_size: int = CHUNK_SIZE) -> Iterator[str]:
    keys = list(CustomField.objects.order_by("key").values_list("key", flat=True))
    writer = csv.writer(_Echo())
    yield writer.writerow([*BUILTIN_COLUMNS, *keys, "tags"])
    for chunk in segment_member_chunks(segment=segment, size=chunk_size):
        lines = []
        for (*builtin, fields), tags in chunk:
            values = [*builtin, *(fields.get(key) for key in keys), tags]
            lines.append(writer.writerow([csv_cell(value) for value in values]))
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
