"""contacts.contact_input: the one cleaning step of the API, CSV import and admin."""

import ast
from pathlib import Path

import pytest

from contacts.contact_input import CleanContact, contact_input_clean
from contacts.models import CustomField
from segflow.errors import InvalidInput

PLAN = CustomField(key="plan", type="choice", choices=["free", "pro"])


def _errors(data) -> dict[str, list[str]]:
    with pytest.raises(InvalidInput) as exc:
        contact_input_clean(data, definitions={"plan": PLAN})
    return exc.value.errors


def test_values_fields_and_tags_are_normalised():
    clean = contact_input_clean(
        {
            "email": " Ann@Example.COM ",
            "first_name": "  ",
            "country": "fr",
            "external_id": 42,
            "fields": {"plan": "PRO"},
            "tags": ["VIP", "vip", " beta "],
        },
        definitions={"plan": PLAN},
    )

    assert clean == CleanContact(
        values={
            "email": "ann@example.com",
            "first_name": None,
            "country": "FR",
            "external_id": "42",
        },
        fields={"plan": "pro"},
        tags=["VIP", "beta"],
    )


def test_keys_not_given_stay_out():
    clean = contact_input_clean({"last_name": "Lee"}, definitions={})

    assert clean == CleanContact(values={"last_name": "Lee"}, fields=None, tags=None)


def test_read_only_keys_of_a_contact_are_ignored():
    clean = contact_input_clean({"id": 3, "lead_score": 9, "email": "a@x.io"}, definitions={})

    assert clean.values == {"email": "a@x.io"}


def test_every_error_is_reported_at_once_by_path_in_key_order():
    errors = _errors(
        {"colour": "red", "tags": ["ok", 3], "fields": {"plan": "gold"}, "country": "xx"}
    )

    assert errors == {
        "country": ["'xx' is not an ISO 3166 alpha-2 country code (e.g. FR, US)."],
        "fields.plan": ["'gold' is not one of the field's choices ('free', 'pro')."],
        "tags[1]": ["Must be a string."],
        "colour": [
            "Unknown key. Allowed: country, email, external_id, fields, first_name, "
            "last_name, tags, timezone."
        ],
    }


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        ([], {"": ["Invalid data. Expected a dictionary, but got list."]}),
        (None, {"": ["No data provided"]}),
        ({"first_name": 42}, {"first_name": ["Must be a string."]}),
        ({"external_id": True}, {"external_id": ["Must be a string or an integer."]}),
        ({"fields": None}, {"fields": ["This field may not be null."]}),
        ({"fields": []}, {"fields": ['Expected a dictionary of items but got type "list".']}),
        ({"tags": "vip"}, {"tags": ['Expected a list of items but got type "str".']}),
        ({"tags": [" "]}, {"tags[0]": ["This field may not be blank."]}),
        ({"tags": ["a\x07b"]}, {"tags": ["Must not contain control characters."]}),
        ({"tags": ["a"] * 1001}, {"tags": ["Ensure this field has no more than 1000 elements."]}),
        ({"first_name": "Ann\x1b"}, {"first_name": ["Must not contain control characters."]}),
    ],
)
def test_bad_shapes_are_named(data, errors):
    assert _errors(data) == errors


@pytest.mark.parametrize(
    "module", ["contact_input", "csv_import", "csv_mapping", "csv_files", "field_types", "builtins"]
)
def test_the_write_path_below_the_api_imports_no_api_package(module):
    source = Path(__file__).parents[2] / "contacts" / f"{module}.py"
    tree = ast.parse(source.read_text())
    imported = [
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    ] + [
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    ]

    assert not [
        name
        for name in imported
        if name and name.startswith(("contacts.api", "segflow.api", "rest_framework"))
    ]
