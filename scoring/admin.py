"""Admin for scoring: rules (validated and saved through scoring.rules, so the admin and the
API accept the same rules), the workspace's decay, a read-only ledger and work queue.
ConditionRuleHit is not registered: deleting a rule here deletes its hits through
scoring.rules (after giving their points back), and the admin must not delete them alone."""

from django import forms
from django.contrib import admin

from scoring.models import (
    PendingScoreEvents,
    ScoreDecay,
    ScoreLedgerEntry,
    ScoringRule,
)
from scoring.rules import FIELDS, rule_clean, rule_create, rule_delete, rule_update
from segflow.errors import InvalidInput


class ScoringRuleForm(forms.ModelForm):
    class Meta:
        model = ScoringRule
        fields = list(FIELDS)
        help_texts = {
            "where": 'Event rules: property filters, e.g. [{"property": "url", "op": '
            '"contains", "value": "pricing"}] (docs/segments.md, event conditions).',
            "condition": 'Condition rules: a condition tree, e.g. {"type": "field", "field": '
            '"plan", "op": "eq", "value": "enterprise"}. Points are given once while a '
            "contact matches.",
            "daily_cap": "Most points the rule gives one contact per UTC day (event rules).",
        }

    def clean(self):
        cleaned = super().clean()
        data = {key: cleaned.get(key) for key in FIELDS if key in cleaned}
        data["where"] = data.get("where") or []
        data["event"] = data.get("event") or ""
        try:
            rule_clean(data, rule=self.instance if self.instance.pk else None)
        except InvalidInput as invalid:
            for path, messages in invalid.errors.items():
                key = path.split(".")[0].split("[")[0]
                message = f"{path}: {' '.join(messages)}" if path != key else " ".join(messages)
                self.add_error(key if key in self.fields else None, message)
        return cleaned


@admin.register(ScoringRule)
class ScoringRuleAdmin(admin.ModelAdmin):
    form = ScoringRuleForm
    list_display = ("name", "kind", "event", "points", "daily_cap", "active", "updated_at")
    list_filter = ("kind", "active")
    search_fields = ("name", "event")

    def save_model(self, request, obj, form, change):
        data = {key: form.cleaned_data.get(key) for key in FIELDS}
        data["where"] = data["where"] or []
        data["event"] = data["event"] or ""
        saved = rule_update(rule=obj, data=data) if change else rule_create(data=data)
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        rule_delete(rule=obj)

    def delete_queryset(self, request, queryset):
        for rule in queryset:
            rule_delete(rule=rule)


@admin.register(ScoreDecay)
class ScoreDecayAdmin(admin.ModelAdmin):
    list_display = ("__str__", "active", "percent", "every_days")

    def has_add_permission(self, request):
        return not ScoreDecay.objects.exists()


@admin.register(ScoreLedgerEntry)
class ScoreLedgerEntryAdmin(admin.ModelAdmin):
    """Read-only: the ledger changes through scoring's services only."""

    list_display = ("created_at", "contact", "delta", "reason", "rule", "event_id")
    list_filter = ("reason",)
    raw_id_fields = ("contact", "rule")
    search_fields = ("contact__email",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class _ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(PendingScoreEvents)
class PendingScoreEventsAdmin(_ReadOnlyAdmin):
    """Events waiting for the scoring worker (one row per ingest batch)."""

    list_display = ("pk", "__str__", "created_at")
