"""Input and output shapes of the contacts API. The contact and event input serializers only
document the body: plain functions that every write path shares validate it
(contacts.contact_input, contacts.event_input)."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from contacts.contact_input import IGNORED_KEYS
from contacts.field_types import KEY_PATTERN
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


# Documentation only (the OpenAPI schema): contacts.contact_input.contact_input_clean validates
# a contact body, for every write path (API, CSV import, admin).
class ContactInputSerializer(StrictSerializer):
    """A contact's built-in fields, custom `fields` and `tags`. Unknown keys are rejected;
    the read-only keys of a contact (id, lead_score, ...) are accepted and ignored."""

    ignored_keys = IGNORED_KEYS

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


# The shape of a definition; its rules (reserved keys, choices) are contacts.field_services'.
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
