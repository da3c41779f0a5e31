"""Reading CSV files of contacts: UTF-8 (with or without a BOM), `,` `;` or tab separated,
a header row first. Blank lines are skipped but keep their place in the row numbering, so
row numbers match what a spreadsheet user counts under the header."""

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass

from segflow.errors import InvalidInput

DELIMITERS = (",", ";", "\t")


@dataclass(frozen=True, slots=True)
class CsvRow:
    number: int  # 1-based, counting every record under the header
    cells: list[str]


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
