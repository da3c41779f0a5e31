"""Which CSV column fills which contact field, and a CSV row as contact input.

Headers map themselves to built-in keys and to custom-field keys or labels (case-insensitive);
an explicit {column: key} mapping overrides, "" ignores a column, and the target "tags" splits
a cell on `,` or `;`. Every column must end up mapped or ignored: a marketer decides, nothing
is silently dropped.
"""

import re
from collections.abc import Mapping

from contacts.builtins import BUILTIN_INPUTS
from contacts.models import CustomField
from segflow.errors import ErrorCollector

BUILTIN_COLUMNS = frozenset(BUILTIN_INPUTS)
TAGS = "tags"
IGNORE = ""
# Header spellings of built-in keys beyond the keys themselves ("First name" -> first_name).
BUILTIN_ALIASES = {
    "e_mail": "email",
    "email_address": "email",
    "firstname": "first_name",
    "given_name": "first_name",
    "lastname": "last_name",
    "surname": "last_name",
    "family_name": "last_name",
    "time_zone": "timezone",
    "externalid": "external_id",
}
_SEPARATORS = re.compile(r"[\s\-.]+")
_TAG_SEPARATORS = re.compile(r"[,;]")


def _as_key(header: str) -> str:
    return _SEPARATORS.sub("_", header.strip().lower()).strip("_")


def _auto_target(header: str, definitions: Mapping[str, CustomField]) -> str | None:
    key = _as_key(header)
    key = BUILTIN_ALIASES.get(key, key)
    if key in BUILTIN_COLUMNS or key == TAGS or key in definitions:
        return key
    by_label = [
        field.key
        for field in definitions.values()
        if field.label.strip().lower() == header.strip().lower()
    ]
    return by_label[0] if len(by_label) == 1 else None


def _target_key(value: object) -> str | None:
    """An explicit mapping value as a target key; "fields.plan" is accepted for "plan"."""
    if not isinstance(value, str):
        return None
    key = value.strip()
    return key.removeprefix("fields.") if key.startswith("fields.") else key


def column_mapping_resolve(
    *,
    header: list[str],
    explicit: Mapping[str, object],
    definitions: Mapping[str, CustomField],
    filled_columns: set[int],
) -> dict[str, str]:
    """{column: target key or ""} for every column; InvalidInput naming each problem."""
    errors = ErrorCollector()
    known = set(BUILTIN_COLUMNS) | {TAGS} | set(definitions)
    names = [name for name in header if name]
    for name in sorted({name for name in names if names.count(name) > 1}):
        errors.add("file", f"Column '{name}' appears more than once in the header.")
    for index, name in enumerate(header):
        if not name and index in filled_columns:
            errors.add("file", f"Column {index + 1} has values but no name in the header.")
    for column in explicit:
        if column not in header:
            errors.add(
                f"mapping.{column}",
                f"No column '{column}' in the file. Columns: {', '.join(names)}.",
            )

    mapping: dict[str, str] = {}
    for name in names:
        if name in explicit:
            target = _target_key(explicit[name])
            if target is None:
                errors.add(f"mapping.{name}", 'Map a column to a field key, or to "" to ignore.')
            elif target != IGNORE and target not in known:
                errors.add(
                    f"mapping.{name}",
                    f"Unknown field key '{target}'. Create the field first (POST /api/v1/fields), "
                    'or map the column to "" to ignore it.',
                )
            else:
                mapping[name] = target
            continue
        target = _auto_target(name, definitions)
        if target is None:
            errors.add(
                f"mapping.{name}",
                f"Column '{name}' matches no contact field: map it to a field key, "
                'or to "" to ignore it.',
            )
        else:
            mapping[name] = target

    targets = [target for target in mapping.values() if target not in (IGNORE, TAGS)]
    for target in sorted({target for target in targets if targets.count(target) > 1}):
        columns = ", ".join(f"'{c}'" for c, t in mapping.items() if t == target)
        errors.add("mapping", f"Columns {columns} all map to '{target}': keep one.")
    if not errors and not {"email", "external_id"} & set(mapping.values()):
        errors.add("mapping", "Map a column to 'email' or 'external_id' to identify contacts.")
    errors.raise_if_any()
    return mapping


def column_mapping_suggest(
    *, header: list[str], definitions: Mapping[str, CustomField]
) -> dict[str, str | None]:
    """{column: the field key its header names, or None} for the named columns (web pages)."""
    return {name: _auto_target(name, definitions) for name in header if name}


def split_tags(cell: str) -> list[str]:
    return [name.strip() for name in _TAG_SEPARATORS.split(cell) if name.strip()]


class RowReader:
    """Turns the cells of one row into contact input (contacts.contact_input), and its error
    paths back into column names."""

    def __init__(self, *, header: list[str], mapping: Mapping[str, str], tags: list[str]):
        self.width = len(header)
        self.targets = [mapping.get(name, IGNORE) if name else IGNORE for name in header]
        self.tags = list(tags)
        self.column_of: dict[str, str] = {}
        for name, target in zip(header, self.targets, strict=True):
            if target != IGNORE:
                path = target if target in BUILTIN_COLUMNS or target == TAGS else f"fields.{target}"
                self.column_of.setdefault(path, name)

    def data(self, cells: list[str]) -> dict:
        """Blank cells are left out, so they leave the contact's value unchanged."""
        data: dict = {}
        fields: dict[str, str] = {}
        tags = list(self.tags)
        for target, cell in zip(self.targets, cells, strict=False):
            value = cell.strip()
            if target == IGNORE or not value:
                continue
            if target == TAGS:
                tags.extend(split_tags(value))
            elif target in BUILTIN_COLUMNS:
                data[target] = value
            else:
                fields[target] = value
        if fields:
            data["fields"] = fields
        if tags:
            data[TAGS] = tags
        return data

    def width_error(self, cells: list[str]) -> dict[str, list[str]] | None:
        if len(cells) <= self.width:
            return None
        return {"": [f"The row has {len(cells)} cells but the header has {self.width} columns."]}

    def column_errors(self, errors: Mapping[str, list[str]]) -> dict[str, list[str]]:
        """{"fields.plan": [...]} -> {"Plan": [...]}: a CSV user knows columns, not keys."""
        by_column: dict[str, list[str]] = {}
        for path, messages in errors.items():
            base = re.sub(r"\[\d+\]$", "", path)
            by_column.setdefault(self.column_of.get(base, path), []).extend(messages)
        return by_column
