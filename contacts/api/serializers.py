"""Input and output shapes of the contacts API. Input serializers validate and normalise via
contacts.builtins and contacts.field_types, which the CSV import and webhooks share."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from contacts import builtins
from contacts.field_types import KEY_PATTERN, field_definitions, normalize_custom_fields
from contacts.models import CustomField, Event, FieldType
from segflow.api.serializers import StrictCharField, StrictSerializer


@extend_schema_field(
    {
        "oneOf": [{"type": "string", "maxLength": 255}, {"type": "integer"}],
        "nullable": True,
        "description": "Your system's id for the contact; an integer is read as its digits.",
    }
)
class ExternalIdField(serializers.Field):
    """A string or an integer (ids are often numeric in the client's system) -> str."""

    default_error_messages = {"invalid": "Must be a string or an integer."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, str | int):
            self.fail("invalid")
        return str(data)

    def to_representation(self, value):
        return value


@extend_schema_field({"type": "string", "pattern": KEY_PATTERN.pattern, "maxLength": 64})
class FieldKeyField(StrictCharField):
    """A custom field key, exactly as given: no trimming, so " plan" is not "plan"."""

    def __init__(self, **kwargs):
        super().__init__(max_length=64, trim_whitespace=False, **kwargs)


def _normalizer(function, **kwargs):
    def validate(self, value):
        try:
            return function(value, **kwargs)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None

    return validate


class ContactInputSerializer(StrictSerializer):
    """A contact's built-in fields, custom `fields` and `tags`. Unknown keys are rejected;
    the read-only keys of a contact (id, lead_score, ...) are accepted and ignored."""

    ignored_keys = frozenset(
        {"id", "lead_score", "email_status", "last_activity_at", "created_at", "updated_at"}
    )

    email = StrictCharField(
        required=False, allow_null=True, allow_blank=True, help_text="Blank or null unsets it."
    )
    first_name = StrictCharField(required=False, allow_null=True, allow_blank=True)
    last_name = StrictCharField(required=False, allow_null=True, allow_blank=True)
    country = StrictCharField(
        required=False, allow_null=True, allow_blank=True, help_text="ISO 3166 alpha-2"
    )
    timezone = StrictCharField(
        required=False, allow_null=True, allow_blank=True, help_text="IANA name"
    )
    external_id = ExternalIdField(required=False, allow_null=True)
    fields = serializers.DictField(
        required=False, help_text="Custom field values by key; null removes a value."
    )
    tags = serializers.ListField(
        child=StrictCharField(max_length=100),
        required=False,
        max_length=1000,
        help_text="POST adds these tags; PATCH replaces the contact's tags with them.",
    )

    validate_first_name = _normalizer(
        builtins.normalize_optional_text, max_length=builtins.NAME_MAX_LENGTH
    )
    validate_last_name = _normalizer(
        builtins.normalize_optional_text, max_length=builtins.NAME_MAX_LENGTH
    )
    validate_country = _normalizer(builtins.normalize_country)
    validate_timezone = _normalizer(builtins.normalize_timezone)
    validate_external_id = _normalizer(
        builtins.normalize_optional_text, max_length=builtins.EXTERNAL_ID_MAX_LENGTH
    )

    def validate_email(self, value):
        if value is None or not value.strip():
            return None
        try:
            return builtins.normalize_email(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def validate_fields(self, value):
        definitions = self.context.get("field_definitions")
        if definitions is None:
            definitions = field_definitions()
        cleaned, errors = normalize_custom_fields(
            value, definitions=definitions, path="", blank_is_unset=self.context.get("csv", False)
        )
        if errors:
            raise serializers.ValidationError(
                {path.lstrip("."): msgs for path, msgs in errors.items()}
            )
        return cleaned

    def validate_tags(self, value):
        names: dict[str, str] = {}
        for name in value:
            try:
                clean = builtins.normalize_tag_name(name)
            except ValueError as exc:
                raise serializers.ValidationError(str(exc)) from None
            names.setdefault(clean.lower(), clean)
        return list(names.values())

    def split(self) -> tuple[dict, dict | None, list[str] | None]:
        """(built-in values, custom field changes, tags) of the validated data."""
        data = dict(self.validated_data)
        fields = data.pop("fields", None)
        tags = data.pop("tags", None)
        return data, fields, tags


class CustomFieldInputSerializer(StrictSerializer):
    """A custom field definition. Unknown keys are rejected; created_at and updated_at are
    accepted and ignored."""

    ignored_keys = frozenset({"created_at", "updated_at"})

    key = FieldKeyField()
    label = StrictCharField(max_length=200)
    type = serializers.ChoiceField(choices=FieldType.choices)
    choices = serializers.ListField(
        child=StrictCharField(max_length=200), required=False, max_length=500
    )
    source = StrictCharField(max_length=32, required=False)
    description = StrictCharField(required=False, allow_blank=True, max_length=2000)

    def validate_key(self, value):
        if not KEY_PATTERN.fullmatch(value):
            raise serializers.ValidationError(
                "Use lower-case letters, digits and underscores, starting with a letter."
            )
        if value in builtins.RESERVED_KEYS:
            raise serializers.ValidationError(f"'{value}' is a built-in contact field.")
        return value

    def validate_choices(self, value):
        seen = set()
        for choice in value:
            if choice.lower() in seen:
                raise serializers.ValidationError(f"Choice '{choice}' is listed twice.")
            seen.add(choice.lower())
        return value

    def validate(self, attrs):
        field_type = attrs.get("type", getattr(self.instance, "type", None))
        choices = attrs.get("choices", getattr(self.instance, "choices", None) or [])
        if field_type == FieldType.CHOICE and not choices:
            raise serializers.ValidationError({"choices": ["A choice field needs choices."]})
        if field_type != FieldType.CHOICE and attrs.get("choices"):
            raise serializers.ValidationError({"choices": ["Only choice fields have choices."]})
        return attrs


class CustomFieldOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = CustomField
        fields = [
            "key",
            "label",
            "type",
            "choices",
            "source",
            "description",
            "created_at",
            "updated_at",
        ]


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "format": "date-time"},
            {"type": "number", "minimum": 0, "maximum": 253402300800, "exclusiveMaximum": True},
        ],
        "nullable": True,
        "description": "ISO 8601 (naive means UTC) or Unix seconds; at most a day ahead. "
        "Defaults to now.",
    }
)
class OccurredAtField(serializers.DateTimeField):
    pass


class EventInputSerializer(StrictSerializer):
    """One event, for the contact with this email or external_id (created when unknown).
    Documentation only: contacts.ingest.event_parse validates (the hot path)."""

    email = serializers.EmailField(required=False, allow_null=True)
    external_id = ExternalIdField(required=False, allow_null=True)
    name = serializers.CharField(max_length=200)
    properties = serializers.DictField(required=False, allow_null=True)
    occurred_at = OccurredAtField(required=False, allow_null=True)
    idempotency_key = serializers.CharField(
        required=False,
        allow_null=True,
        max_length=255,
        help_text="A replay with the same key is stored once.",
    )


class EventBatchInputSerializer(serializers.Serializer):
    events = EventInputSerializer(many=True, max_length=1000, help_text="Up to 1,000 events.")


class EventAcceptedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    contact = serializers.IntegerField()
    duplicate = serializers.BooleanField()


class EventRejectedSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class EventBatchResultSerializer(serializers.Serializer):
    accepted = serializers.IntegerField(help_text="Valid events, stored (replays included).")
    duplicates = serializers.IntegerField(help_text="Accepted events whose key was seen before.")
    rejected = EventRejectedSerializer(many=True)


class EventOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Event
        fields = [
            "id",
            "contact",
            "name",
            "properties",
            "occurred_at",
            "received_at",
            "source",
            "idempotency_key",
        ]
