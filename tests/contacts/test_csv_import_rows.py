"""The set-based import's column-by-column cleaning agrees with RowReader + contact_input_clean
(the row-by-row path and the API) on values, errors and their order, remembered cells too."""

import pytest

from contacts.contact_input import contact_input_clean
from contacts.csv_import_rows import RowCleaner
from contacts.csv_mapping import RowReader
from contacts.models import CustomField
from segflow.errors import InvalidInput

HEADER = ["Seats", "Email", "Plan", "Country", "Groups", "Trial ends", "Since", "First", "Gone"]
MAPPING = {
    "Seats": "seats",
    "Email": "email",
    "Plan": "plan",
    "Country": "country",
    "Groups": "tags",
    "Trial ends": "trial_ends_at",
    "Since": "since",
    "First": "first_name",
    "Gone": "deleted_field",  # mapped, then the field was deleted before processing
}
DEFINITIONS = {
    "seats": CustomField(key="seats", type="number"),
    "plan": CustomField(key="plan", type="choice", choices=["Free", "Pro"]),
    "trial_ends_at": CustomField(key="trial_ends_at", type="datetime"),
    "since": CustomField(key="since", type="date"),
}
ROWS = [
    ["3", "Ann@Example.com", "pro", "fr", "vip; beta", "2026-03-15T10:00:00+02:00", "", "Ann", ""],
    [" 12 ", "b@x.io", "", "", "", "", "2026-01-02", "", ""],
    ["many", "not-an-email", "gold", "Mars", "", "tomorrow", "2026-13-01", "x" * 151, ""],
    ["1", "c@x.io", "Free", "DE", "ok, " + "t" * 101, "", "", "", ""],
    ["1", "c@x.io", "Free", "DE", "bad\x01tag", "", "", "", ""],
    ["2", "d@x.io"],  # short row: the missing cells are blank
    ["", "", "", "", "", "", "", "", ""],
    ["3", "e@x.io", "PRO", "de", "", "", "", "", "something"],
    ["1_000", "f@x.io", "pro", "fr", "vip;beta", "", "", "Ann\x00", ""],
]


def _expected(reader: RowReader, cells: list[str]):
    try:
        return contact_input_clean(reader.data(cells), definitions=DEFINITIONS), {}
    except InvalidInput as exc:
        return None, exc.errors


@pytest.mark.parametrize("import_tags", [[], ["fair-2026"]])
def test_each_row_cleans_as_contact_input_clean_cleans_it(import_tags):
    reader = RowReader(header=HEADER, mapping=MAPPING, tags=import_tags)
    cleaner = RowCleaner(reader=reader, definitions=DEFINITIONS)

    for cells in ROWS * 2:  # the second pass answers from the remembered cells
        clean, errors = cleaner.clean(cells)
        expected_clean, expected_errors = _expected(reader, cells)
        assert clean == expected_clean, cells
        assert list(errors.items()) == list(expected_errors.items()), cells
