"""Input and output shapes of the segments API."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from contacts.representations import ContactOutputSerializer
from segflow.api.serializers import StrictSerializer
from segments.models import Segment, SegmentDailyStats
from segments.selectors import PREVIEW_SAMPLE_SIZE

MIN_REFRESH_INTERVAL = 60
MAX_REFRESH_INTERVAL = 7 * 24 * 3600
MAX_PREVIEW_SAMPLE = 100


CONDITIONS_HELP = "Condition tree; its operators and their meaning are in docs/segments.md."


@extend_schema_field(OpenApiTypes.OBJECT)
class ConditionsField(serializers.JSONField):
    """A condition tree (docs/segments.md), validated by segments.validation."""


class SegmentInputSerializer(StrictSerializer):
    ignored_keys = frozenset(
        {
            "id",
            "size",
            "is_time_relative",
            "depends_on",
            "last_evaluated_at",
            "next_evaluation_at",
            "failed_at",
            "failure_reason",
            "created_at",
            "updated_at",
        }
    )

    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    conditions = ConditionsField(help_text=CONDITIONS_HELP)
    refresh_interval = serializers.IntegerField(
        required=False,
        min_value=MIN_REFRESH_INTERVAL,
        max_value=MAX_REFRESH_INTERVAL,
        help_text="Seconds between re-evaluations when the conditions are time-relative.",
    )


class SegmentOutputSerializer(serializers.ModelSerializer):
    depends_on = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = Segment
        fields = [
            "id",
            "name",
            "description",
            "conditions",
            "is_time_relative",
            "refresh_interval",
            "depends_on",
            "size",
            "last_evaluated_at",
            "next_evaluation_at",
            "failed_at",
            "failure_reason",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {
            "failed_at": {
                "help_text": "When an evaluation failed (null when it did not): the segment is "
                "skipped by background evaluation until its conditions change or an "
                "evaluation with wait=true succeeds."
            },
            "failure_reason": {"help_text": "Why it failed; empty when it did not."},
        }


class SegmentFailedOutputSerializer(serializers.Serializer):
    detail = serializers.CharField()
    failure_reason = serializers.CharField(help_text="Why the segment cannot be evaluated.")


class EvaluationOutputSerializer(serializers.Serializer):
    size = serializers.IntegerField()
    entered = serializers.IntegerField()
    left = serializers.IntegerField()


class ExplainOutputSerializer(serializers.Serializer):
    segment = serializers.IntegerField()
    contact = serializers.IntegerField()
    result = serializers.BooleanField(help_text="Whether the conditions hold for the contact now.")
    member = serializers.BooleanField(help_text="Whether the contact is a current member.")
    tree = serializers.DictField(
        help_text='The condition tree; every node gains "result", every leaf "actual".'
    )


class PreviewInputSerializer(StrictSerializer):
    conditions = ConditionsField(help_text=CONDITIONS_HELP)
    sample_size = serializers.IntegerField(
        required=False, min_value=0, max_value=MAX_PREVIEW_SAMPLE, default=PREVIEW_SAMPLE_SIZE
    )


class PreviewOutputSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    sample = ContactOutputSerializer(many=True, help_text="The first matching contacts by id.")


class DailyStatsOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = SegmentDailyStats
        fields = ["day", "size", "entered", "left"]
