import datetime as dt
import re

import pytest

from contacts.field_types import normalize_custom_fields, parse_datetime_value
from tests.factories import CustomFieldFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("field_type", "raw", "stored"),
    [
        ("text", "  hello ", "hello"),
        ("text", 42, "42"),
        ("number", "3.50", 3.5),
        ("number", "12", 12),
        ("number", 7.0, 7),
        ("boolean", "yes", True),
        ("boolean", "FALSE", False),
        ("boolean", 0, False),
        ("date", "2026-02-28", "2026-02-28"),
        ("datetime", "2026-11-24T10:00:00+02:00", "2026-11-24T08:00:00Z"),
        ("datetime", "2026-11-24 10:00", "2026-11-24T10:00:00Z"),
        ("datetime", 0, "1970-01-01T00:00:00Z"),
    ],
)
def test_values_are_normalised_to_the_field_type(field_type, raw, stored):
    field = CustomFieldFactory(key="f", type=field_type)

    cleaned, errors = normalize_custom_fields({"f": raw}, definitions={"f": field})

    assert errors == {}
    assert cleaned == {"f": stored}


@pytest.mark.parametrize(
    ("field_type", "raw"),
    [
        ("number", "many"),
        ("number", True),
        ("number", float("nan")),
        ("boolean", "maybe"),
        ("date", "2026-02-30"),
        ("date", 20260101),
        ("datetime", "next tuesday"),
        ("text", {"nested": 1}),
        ("text", "x" * 2001),
    ],
)
def test_values_that_do_not_fit_the_type_are_errors(field_type, raw):
    field = CustomFieldFactory(key="f", type=field_type)

    cleaned, errors = normalize_custom_fields({"f": raw}, definitions={"f": field})

    assert list(errors) == ["fields.f"]
    assert cleaned == {}


def test_choice_matches_case_insensitively_to_the_canonical_choice():
    field = CustomFieldFactory(key="plan", type="choice", choices=["Free", "Pro"])

    cleaned, errors = normalize_custom_fields({"plan": "pro"}, definitions={"plan": field})
    _, bad = normalize_custom_fields({"plan": "gold"}, definitions={"plan": field})

    assert cleaned == {"plan": "Pro"}
    assert "fields.plan" in bad


def test_unknown_keys_are_errors_not_stored():
    cleaned, errors = normalize_custom_fields({"nope": 1}, definitions={})

    assert cleaned == {}
    assert "Unknown field" in errors["fields.nope"][0]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-11-24T09:30:00Z", dt.datetime(2026, 11, 24, 9, 30, tzinfo=dt.UTC)),
        ("2026-11-24T09:30:00+00:00", dt.datetime(2026, 11, 24, 9, 30, tzinfo=dt.UTC)),
        ("2026-11-24T09:30:00", dt.datetime(2026, 11, 24, 9, 30, tzinfo=dt.UTC)),
        ("2026-11-24 09:30", dt.datetime(2026, 11, 24, 9, 30, tzinfo=dt.UTC)),
        (" 2026-11-24T09:30:00Z ", dt.datetime(2026, 11, 24, 9, 30, tzinfo=dt.UTC)),
        ("2026-11-24T09:30:00.123Z", dt.datetime(2026, 11, 24, 9, 30, 0, 123000, tzinfo=dt.UTC)),
        (
            "2026-11-24T09:30:00.123456+05:30",
            dt.datetime(2026, 11, 24, 4, 0, 0, 123456, tzinfo=dt.UTC),
        ),
        ("2026-11-24T09:30:00-08:00", dt.datetime(2026, 11, 24, 17, 30, tzinfo=dt.UTC)),
        ("2026-11-24T23:30:00-01:00", dt.datetime(2026, 11, 25, 0, 30, tzinfo=dt.UTC)),
        ("2024-02-29T12:00:00Z", dt.datetime(2024, 2, 29, 12, 0, tzinfo=dt.UTC)),
        ("2026-11-24", dt.datetime(2026, 11, 24, tzinfo=dt.UTC)),
        (1700000000, dt.datetime(2023, 11, 14, 22, 13, 20, tzinfo=dt.UTC)),
        (1700000000.5, dt.datetime(2023, 11, 14, 22, 13, 20, 500000, tzinfo=dt.UTC)),
        ("2026-02-29T12:00:00Z", "'2026-02-29T12:00:00Z' is not an ISO 8601 date-time"),
        ("2026-11-24T24:00:00Z", "'2026-11-24T24:00:00Z' is not an ISO 8601 date-time"),
        ("yesterday", "'yesterday' is not an ISO 8601 date-time"),
        ("0001-01-01T00:00:00+01:00", "is out of range (years 1 to 9999 in UTC)"),
        (-1, "Unix timestamp out of range."),
        (True, "Must be an ISO 8601 date-time."),
    ],
)
def test_datetimes_are_read_as_aware_utc(raw, expected):
    if isinstance(expected, dt.datetime):
        parsed = parse_datetime_value(raw)
        assert parsed == expected
        assert parsed.tzinfo is dt.UTC
    else:
        with pytest.raises(ValueError, match=re.escape(expected)):
            parse_datetime_value(raw)


@pytest.mark.parametrize("raw", ["line one\nline two", "a\tb", "windows\r\nbreak"])
def test_text_values_keep_tabs_and_line_breaks(raw):
    field = CustomFieldFactory(key="note", type="text")

    cleaned, errors = normalize_custom_fields({"note": raw}, definitions={"note": field})

    assert (cleaned, errors) == ({"note": raw}, {})


@pytest.mark.parametrize(
    ("field_type", "raw"), [("text", "bell\x07"), ("text", "esc\x1b[0m"), ("choice", "pro\x7f")]
)
def test_text_and_choice_values_refuse_other_control_characters(field_type, raw):
    field = CustomFieldFactory(
        key="f", type=field_type, choices=["pro"] if field_type == "choice" else []
    )

    cleaned, errors = normalize_custom_fields({"f": raw}, definitions={"f": field})

    assert cleaned == {}
    assert errors == {
        "fields.f": ["Must not contain control characters other than tab and line breaks."]
    }
