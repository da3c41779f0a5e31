"""An import's row errors as a CSV report: one line per (row, column, message), with the value
the file held in that cell (read back from the stored file, which the errors do not copy)."""

import csv
import io
from collections.abc import Iterator

from contacts.csv_files import CsvFile
from contacts.models import ContactImport

HEADER = ["row", "column", "value", "message"]
# A cell a spreadsheet would run as a formula is written with a leading quote (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _safe(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _cells_by_row(contact_import: ContactImport, numbers: set[int]) -> dict[int, list[str]]:
    if not numbers:
        return {}
    found: dict[int, list[str]] = {}
    last = max(numbers)
    for row in CsvFile(contact_import.csv_text).rows():
        if row.number in numbers:
            found[row.number] = row.cells
        if row.number >= last:
            break
    return found


def import_error_lines(
    contact_import: ContactImport, *, rows: int | None = None
) -> Iterator[list[str]]:
    """[row, column, value, message] for each stored error ("" column: the whole row), of the
    first `rows` rows with errors (all stored when None)."""
    errors = contact_import.errors[:rows]
    header = CsvFile(contact_import.csv_text).header
    cells = _cells_by_row(contact_import, {item["row"] for item in errors})
    for item in errors:
        row_cells = cells.get(item["row"], [])
        for column, messages in item["errors"].items():
            index = header.index(column) if column in header else None
            value = row_cells[index] if index is not None and index < len(row_cells) else ""
            for message in messages:
                yield [str(item["row"]), column, value, message]


def import_errors_csv(contact_import: ContactImport) -> str:
    """The report as CSV text (UTF-8 with a BOM is left to the caller)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for line in import_error_lines(contact_import):
        writer.writerow([_safe(cell) for cell in line])
    return out.getvalue()
