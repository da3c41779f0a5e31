"""Serializer bases every API shares: unknown keys are refused, strings are never coerced."""

from collections.abc import Mapping

from rest_framework import serializers


class StrictSerializer(serializers.Serializer):
    """Rejects keys it does not know (a typo must not be silently dropped); keys listed in
    `ignored_keys` (read-only ones echoed back from a response) are skipped."""

    ignored_keys: frozenset[str] = frozenset()

    def to_internal_value(self, data):
        unknown = {}
        if isinstance(data, Mapping):
            allowed = set(self.fields) | self.ignored_keys
            unknown = {
                str(key): [f"Unknown key. Allowed: {', '.join(sorted(self.fields))}."]
                for key in data
                if key not in allowed
            }
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if unknown and isinstance(exc.detail, dict):
                exc.detail.update(unknown)
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return value


class StrictCharField(serializers.CharField):
    """A string, never a number coerced into one: `"first_name": 42` is a client mistake.
    max_length holds for the string as sent (the schema's maxLength), before the trim."""

    default_error_messages = {"invalid": "Must be a string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        if self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """true or false, never a value coerced into one (DRF's BooleanField takes 0, "yes")."""

    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data
