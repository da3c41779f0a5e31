"""Writes to custom field definitions, with their rules: a key is a slug that never shadows a
built-in and never changes, choices belong to choice fields only, and the type changes only
while no contact holds a value and nothing reads the field."""

from collections.abc import Mapping

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Func, Value

from contacts.builtins import RESERVED_KEYS, check_no_control_chars
from contacts.field_types import KEY_PATTERN
from contacts.field_usage import custom_field_check_unused
from contacts.models import Contact, CustomField, FieldType
from segflow.errors import ErrorCollector, InvalidInput

EDITABLE = frozenset({"key", "label", "type", "choices", "source", "description"})


def custom_field_definition_check(
    *, key: str, type: str, choices: list[str] | None, stored_choices: list[str]
) -> None:
    """InvalidInput naming every broken rule; `choices` None means not given."""
    errors = ErrorCollector()
    if not KEY_PATTERN.fullmatch(key):
        errors.add("key", "Use lower-case letters, digits and underscores, starting with a letter.")
    elif key in RESERVED_KEYS:
        errors.add("key", f"'{key}' is a built-in contact field.")
    if type not in FieldType.values:
        errors.add("type", f'"{type}" is not a valid choice.')
    seen: set[str] = set()
    for index, choice in enumerate(choices or []):
        try:
            check_no_control_chars(choice)
        except ValueError as exc:
            errors.add(f"choices[{index}]", str(exc))
        if choice.lower() in seen:
            errors.add("choices", f"Choice '{choice}' is listed twice.")
            break
        seen.add(choice.lower())
    if type == FieldType.CHOICE and not (stored_choices if choices is None else choices):
        errors.add("choices", "A choice field needs choices.")
    if type != FieldType.CHOICE and choices:
        errors.add("choices", "Only choice fields have choices.")
    errors.raise_if_any()


def custom_field_create(
    *,
    key: str,
    label: str,
    type: str,
    choices: list[str] | None = None,
    source: str = "manual",
    description: str = "",
) -> CustomField:
    custom_field_definition_check(key=key, type=type, choices=choices, stored_choices=[])
    try:
        with transaction.atomic():
            return CustomField.objects.create(
                key=key,
                label=label,
                type=type,
                choices=choices or [],
                source=source,
                description=description,
            )
    except IntegrityError:
        raise InvalidInput.single("key", "A field with this key already exists.") from None


def custom_field_update(*, field: CustomField, data: Mapping[str, object]) -> CustomField:
    """Change the given attributes (label, description, choices, source; type under the rules
    above). `key` may be given, equal to the field's: a definition copied from a response."""
    unknown = set(data) - EDITABLE
    if unknown:
        raise TypeError(f"Not editable: {', '.join(sorted(unknown))}")
    changes = dict(data)
    new_key = changes.pop("key", field.key)
    new_type = changes.get("type", field.type)
    custom_field_definition_check(
        key=new_key, type=new_type, choices=changes.get("choices"), stored_choices=field.choices
    )
    if new_key != field.key:
        raise InvalidInput.single("key", "A field's key cannot change.")
    with transaction.atomic():
        field = CustomField.objects.select_for_update().get(pk=field.pk)
        if new_type != field.type:
            if Contact.objects.filter(fields__has_key=field.key).exists():
                raise InvalidInput.single(
                    "type",
                    "Contacts have values for this field; its type "
                    "cannot change. Create a new field instead.",
                )
            custom_field_check_unused(key=field.key, path="type", change="change its type")
        for name, value in changes.items():
            setattr(field, name, value)
        field.save()
    return field


def custom_field_delete(*, field: CustomField) -> None:
    """Delete the definition and its values on every contact, in one statement. Refused while
    segment conditions read the field (they could no longer be evaluated)."""
    with transaction.atomic():
        custom_field_check_unused(key=field.key, path="key", change="delete it")
        key = field.key
        field.delete()
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "UPDATE contacts_contact SET fields = fields - %s WHERE fields ? %s",
                    [key, key],
                )
        else:
            Contact.objects.filter(fields__has_key=key).update(
                fields=Func(F("fields"), Value(f'$."{key}"'), function="json_remove")
            )
