"""Scoring API shapes. Rule input is validated by scoring.rules.rule_clean (every error with
its JSON path); RuleInputSerializer documents that input in the OpenAPI schema."""

from rest_framework import serializers

from scoring.models import RuleKind, ScoreLedgerEntry, ScoringRule
from scoring.rules import MAX_POINTS
from segflow.api.serializers import StrictSerializer


class RuleInputSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=RuleKind.choices, required=False)
    event = serializers.CharField(max_length=200, required=False, allow_blank=True)
    where = serializers.ListField(
        child=serializers.DictField(), required=False, allow_null=True, max_length=20
    )
    condition = serializers.JSONField(required=False, allow_null=True)
    points = serializers.IntegerField(min_value=-MAX_POINTS, max_value=MAX_POINTS)
    daily_cap = serializers.IntegerField(
        min_value=1, max_value=MAX_POINTS, required=False, allow_null=True
    )
    active = serializers.BooleanField(required=False)


class RuleOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = ScoringRule
        fields = [
            "id",
            "name",
            "kind",
            "event",
            "where",
            "condition",
            "points",
            "daily_cap",
            "active",
            "created_at",
            "updated_at",
        ]


class LedgerEntrySerializer(serializers.ModelSerializer):
    rule_name = serializers.CharField(source="rule.name", default=None, allow_null=True)
    event = serializers.IntegerField(source="event_id", allow_null=True)

    class Meta:
        model = ScoreLedgerEntry
        fields = ["id", "delta", "reason", "rule", "rule_name", "event", "created_at"]


class ScoreAdjustSerializer(StrictSerializer):
    delta = serializers.IntegerField(
        min_value=-MAX_POINTS,
        max_value=MAX_POINTS,
        help_text="Points to add (negative: remove); not 0.",
    )
    reason = serializers.CharField(max_length=180, required=False, allow_blank=True)


class ScoreSerializer(serializers.Serializer):
    """GET /contacts/{id}/score: the score and one page of its ledger, newest first."""

    contact = serializers.IntegerField()
    lead_score = serializers.IntegerField()
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = LedgerEntrySerializer(many=True)


class ScoreAdjustedSerializer(serializers.Serializer):
    contact = serializers.IntegerField()
    lead_score = serializers.IntegerField()
    entry = LedgerEntrySerializer()
