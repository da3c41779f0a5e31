"""Reading CSV files of contacts: UTF-8 (with or without a BOM), `,` `;` or tab separated,
a header row first. Blank lines are skipped but keep their place in the row numbering, so
row numbers match what a spreadsheet user counts under the header."""

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings

from segflow.errors import InvalidInput

DELIMITERS = (",", ";", "\t")
MB = 1024 * 1024
FILENAME_MAX_LENGTH = 255
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class CsvRow:
    number: int  # 1-based, counting every record under the header
    cells: list[str]


def csv_size_check(*, size: int) -> None:
    """InvalidInput when a file of `size` bytes is over the import limit."""
    limit = settings.CONTACT_IMPORT_MAX_BYTES
    if size > limit:
        raise InvalidInput.single(
            "file",
            f"The file is {size / MB:.1f} MB; imports are limited to {limit / MB:.0f} MB. "
            "Split it into several files.",
        )


def csv_filename_clean(name: str | None) -> str:
    """An uploaded file's name as we can store and show it."""
    clean = _CONTROL_CHARS.sub("", name or "")
    return clean.encode("utf-8", "replace").decode("utf-8")[:FILENAME_MAX_LENGTH]


def csv_decode(data: bytes) -> str:
    """File bytes -> text that PostgreSQL can store; InvalidInput when it is not UTF-8 CSV."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput.single(
            "file",
            f"The file is not UTF-8 text (byte {exc.start + 1}). Export it as 'CSV UTF-8'.",
        ) from None
    if "\x00" in text:
        raise InvalidInput.single(
            "file", "The file contains NUL characters: is it a spreadsheet rather than a CSV?"
        )
    return text


def csv_sniff_delimiter(text: str) -> str:
    """The delimiter used most in the header line (`,` when it has a single column)."""
    header_line = text.lstrip("\ufeff").split("\n", 1)[0]
    counts = {delimiter: header_line.count(delimiter) for delimiter in DELIMITERS}
    best = max(DELIMITERS, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


def _is_blank(cells: list[str]) -> bool:
    return all(not cell.strip() for cell in cells)


class CsvFile:
    """A CSV text with its header read; `rows()` yields the non-blank data records."""

    def __init__(self, text: str):
        self.text = text.lstrip("\ufeff")
        self.delimiter = csv_sniff_delimiter(self.text)
        records = self._records()
        try:
            header = next(records, None)
        except csv.Error as exc:
            raise InvalidInput.single("file", f"The header row is not valid CSV: {exc}.") from None
        if header is None or _is_blank(header):
            raise InvalidInput.single("file", "The file is empty: it needs a header row.")
        self.header = [cell.strip() for cell in header]
        self.line_number = 0  # of the file, where reading stopped (for error messages)

    def _records(self) -> Iterator[list[str]]:
        reader = csv.reader(io.StringIO(self.text, newline=""), delimiter=self.delimiter)
        for cells in reader:
            self.line_number = reader.line_num
            yield cells

    def rows(self) -> Iterator[CsvRow]:
        records = self._records()
        next(records)
        for number, cells in enumerate(records, start=1):
            if not _is_blank(cells):
                yield CsvRow(number=number, cells=cells)


def csv_file_check(csv_file: CsvFile) -> tuple[int, set[int]]:
    """Read the whole file once: (number of data rows, indexes of columns holding any value).

    Raises InvalidInput naming the row when the file is not valid CSV, so a broken file is
    refused when it is uploaded rather than half-way through the import.
    """
    count = 0
    filled: set[int] = set()
    rows = csv_file.rows()
    while True:
        try:
            row = next(rows)
        except StopIteration:
            break
        except csv.Error as exc:
            raise InvalidInput.single(
                "file", f"Line {csv_file.line_number + 1} is not valid CSV: {exc}."
            ) from None
        count += 1
        filled.update(index for index, cell in enumerate(row.cells) if cell.strip())
    return count, filled
