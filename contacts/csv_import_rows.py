"""Cleaning CSV rows column by column for the set-based import: the same normalisers as
`contact_input_clean` (contacts.builtins.BUILTIN_INPUTS for built-ins, normalize_custom_fields
for custom values, contact_input_clean itself for tags), so values and messages are the API's,
but each column's normaliser is looked up once per file and its answers are remembered per
distinct cell (a file repeats its plans, countries, dates and tags on every row).

tests/contacts/test_csv_import_rows.py checks it against RowReader + contact_input_clean.
"""

from collections.abc import Callable, Hashable, Mapping
from typing import Any

from contacts.builtins import BUILTIN_INPUTS
from contacts.contact_input import CleanContact, contact_input_clean
from contacts.csv_mapping import BUILTIN_COLUMNS, IGNORE, TAGS, RowReader, split_tags
from contacts.field_types import normalize_custom_fields
from contacts.models import CustomField
from segflow.errors import InvalidInput

CACHE_LIMIT = 20_000  # distinct cells remembered per column
_BUILTIN_ORDER = {key: position for position, key in enumerate(BUILTIN_INPUTS)}

Outcome = tuple[bool, object]  # (True, clean value) or (False, message list by path)


def _builtin(key: str) -> Callable[[str], Outcome]:
    normalize = BUILTIN_INPUTS[key]

    def clean(value: str) -> Outcome:
        try:
            return True, normalize(value)
        except ValueError as exc:
            return False, {key: [str(exc)]}

    return clean


def _custom(key: str, definitions: Mapping[str, CustomField]) -> Callable[[str], Outcome]:
    def clean(value: str) -> Outcome:
        cleaned, errors = normalize_custom_fields({key: value}, definitions=definitions)
        return (False, errors) if errors else (True, cleaned[key])

    return clean


def _remembered(clean: Callable[[Any], Outcome]) -> Callable[[Hashable], Outcome]:
    seen: dict[Hashable, Outcome] = {}

    def lookup(value: Hashable) -> Outcome:
        outcome = seen.get(value)
        if outcome is None:
            outcome = clean(value)
            if len(seen) < CACHE_LIMIT:
                seen[value] = outcome
        return outcome

    return lookup


class RowCleaner:
    """cells -> CleanContact, or InvalidInput's errors by path (as contact_input_clean)."""

    def __init__(self, *, reader: RowReader, definitions: Mapping[str, CustomField]):
        self.import_tags = list(reader.tags)
        columns = []
        for index, target in enumerate(reader.targets):
            if target == IGNORE:
                continue
            if target == TAGS:
                columns.append(((2, index), index, target, None, False))
            elif target in BUILTIN_COLUMNS:
                order = (0, _BUILTIN_ORDER[target])
                columns.append((order, index, target, _remembered(_builtin(target)), False))
            else:
                clean = _remembered(_custom(target, definitions))
                columns.append(((1, index), index, target, clean, True))
        # Errors come out in contact_input_clean's order: built-ins, custom fields, tags.
        self.columns = [column[1:] for column in sorted(columns, key=lambda column: column[0])]
        self._tags = _remembered(self._clean_tags)

    @staticmethod
    def _clean_tags(names: tuple[str, ...]) -> Outcome:
        try:
            return True, contact_input_clean({TAGS: list(names)}).tags
        except InvalidInput as exc:
            return False, exc.errors

    def clean(self, cells: list[str]) -> tuple[CleanContact | None, dict[str, list[str]]]:
        values: dict[str, object] = {}
        fields: dict[str, object] = {}
        tags = self.import_tags
        errors: dict[str, list[str]] = {}
        width = len(cells)
        for index, target, clean, is_field in self.columns:
            if index >= width:
                continue
            value = cells[index].strip()
            if not value:
                continue
            if clean is None:
                tags = tags + split_tags(value)
                continue
            ok, result = clean(value)
            if not ok:
                errors.update(result)
            elif is_field:
                fields[target] = result
            else:
                values[target] = result
        clean_tags = None
        if tags:
            ok, result = self._tags(tuple(tags))
            if ok:
                clean_tags = list(result)
            else:
                errors.update(result)
        if errors:
            return None, errors
        return CleanContact(values=values, fields=fields or None, tags=clean_tags), {}
