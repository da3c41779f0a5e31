"""A contact as a client writes it (API body, CSV row, admin form): `contact_input_clean` checks
and normalises every key and reports every error at once by JSON path. It is the one cleaning
step of every contact write path; contacts.services then applies the result."""

from collections.abc import Mapping
from dataclasses import dataclass

from contacts.builtins import BUILTIN_INPUTS, normalize_tag_name
from contacts.field_types import field_definitions, normalize_custom_fields
from contacts.models import CustomField
from segflow.errors import InvalidInput

INPUT_KEYS = (*BUILTIN_INPUTS, "fields", "tags")
# Read-only keys of a contact: a body copied from a response may carry them back.
IGNORED_KEYS = frozenset(
    {"id", "lead_score", "email_status", "last_activity_at", "created_at", "updated_at"}
)
TAGS_MAX = 1000
TAG_MAX_LENGTH = 100
# The wording clients have always seen for these shape errors (DRF's, before this module).
_UNKNOWN_KEY = f"Unknown key. Allowed: {', '.join(sorted(INPUT_KEYS))}."
_NULL = "This field may not be null."


@dataclass(frozen=True, slots=True)
class CleanContact:
    values: dict[str, object]  # the built-in columns given, normalised
    fields: dict[str, object] | None  # custom values given (None removes one); None: not given
    tags: list[str] | None  # tag names, deduplicated case-insensitively; None: not given


def contact_input_clean(
    data: object, *, definitions: Mapping[str, CustomField] | None = None
) -> CleanContact:
    """Check and normalise a contact body; InvalidInput naming each bad key by path.

    `definitions` are the custom fields by key (read when the body has `fields` and none are
    given: a CSV import passes them once for all its rows)."""
    if data is None:
        raise InvalidInput.single("", "No data provided")
    if not isinstance(data, Mapping):
        raise InvalidInput.single(
            "", f"Invalid data. Expected a dictionary, but got {type(data).__name__}."
        )
    errors: dict[str, list[str]] = {}
    values: dict[str, object] = {}
    for key, normalize in BUILTIN_INPUTS.items():
        if key in data:
            try:
                values[key] = normalize(data[key])
            except ValueError as exc:
                errors[key] = [str(exc)]
    fields = None
    if "fields" in data:
        fields = _clean_fields(data["fields"], definitions, errors)
    tags = None
    if "tags" in data:
        tags = _clean_tags(data["tags"], errors)
    for key in data:
        if key not in INPUT_KEYS and key not in IGNORED_KEYS:
            errors[str(key)] = [_UNKNOWN_KEY]
    if errors:
        raise InvalidInput(errors)
    return CleanContact(values=values, fields=fields, tags=tags)


def _clean_fields(
    value: object, definitions: Mapping[str, CustomField] | None, errors: dict[str, list[str]]
) -> dict[str, object] | None:
    if value is None:
        errors["fields"] = [_NULL]
        return None
    if not isinstance(value, dict):
        kind = type(value).__name__
        errors["fields"] = [f'Expected a dictionary of items but got type "{kind}".']
        return None
    cleaned, field_errors = normalize_custom_fields(
        value, definitions=field_definitions() if definitions is None else definitions
    )
    errors.update(field_errors)
    return cleaned


def _clean_tags(value: object, errors: dict[str, list[str]]) -> list[str] | None:
    if value is None:
        errors["tags"] = [_NULL]
        return None
    if not isinstance(value, list):
        kind = type(value).__name__
        errors["tags"] = [f'Expected a list of items but got type "{kind}".']
        return None
    item_errors = {
        f"tags[{index}]": [message]
        for index, name in enumerate(value)
        if (message := _tag_shape_error(name)) is not None
    }
    if item_errors:
        errors.update(item_errors)
        return None
    if len(value) > TAGS_MAX:
        errors["tags"] = [f"Ensure this field has no more than {TAGS_MAX} elements."]
        return None
    names: dict[str, str] = {}
    for name in value:
        try:
            clean = normalize_tag_name(name)
        except ValueError as exc:
            errors["tags"] = [str(exc)]
            return None
        names.setdefault(clean.lower(), clean)
    return list(names.values())


def _tag_shape_error(name: object) -> str | None:
    if name is None:
        return _NULL
    if not isinstance(name, str):
        return "Must be a string."
    if not name.strip():
        return "This field may not be blank."
    if len(name.strip()) > TAG_MAX_LENGTH:
        return f"Ensure this field has no more than {TAG_MAX_LENGTH} characters."
    return None
