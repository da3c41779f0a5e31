import pytest

from contacts.field_types import normalize_custom_fields
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
