"""Lead scoring: rules, the score ledger, and the durable work queues of scoring.

`Contact.lead_score` is the sum of the contact's ledger rows: every change of a score (a rule,
a flow's adjust_score step, decay, a manual adjustment) is a ledger row written in the same
transaction as the score (scoring.ledger). `recompute_scores` checks that invariant.
"""

from django.db import models
from django.utils.timezone import now

from contacts.models import Contact


class RuleKind(models.TextChoices):
    EVENT = "event", "Event"
    CONDITION = "condition", "Condition on fields"


class ScoringRule(models.Model):
    """Points for an event (name + `where` property filters, condition language) or for
    matching a condition (a condition Node, applied once while the contact matches)."""

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=RuleKind.choices, default=RuleKind.EVENT)
    event = models.CharField(max_length=200, blank=True, default="")
    where = models.JSONField(default=list, blank=True)
    condition = models.JSONField(null=True, blank=True)
    points = models.IntegerField()
    # Most points (in absolute value) the rule gives one contact per UTC day; None: no cap.
    daily_cap = models.PositiveIntegerField(null=True, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(default=now)

    class Meta:
        indexes = [models.Index(fields=["kind", "active"], name="scoring_rule_kind_active")]

    def __str__(self) -> str:
        return f"{self.name} ({self.points:+d})"


class ScoreLedgerEntry(models.Model):
    """One change of one contact's lead score. The score is the sum of these rows."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    rule = models.ForeignKey(ScoringRule, null=True, blank=True, on_delete=models.SET_NULL)
    delta = models.IntegerField()
    reason = models.CharField(max_length=200)
    # The scored event's id (no foreign key: deleting an event must not rewrite the ledger).
    event_id = models.BigIntegerField(null=True, blank=True)
    # Idempotency of non-event rows, unique per contact (decay: one row per period).
    key = models.CharField(max_length=100, null=True, blank=True)
    created_at = models.DateTimeField(default=now)

    class Meta:
        constraints = [
            # An event scores once per rule, whatever replays or retries happen.
            models.UniqueConstraint(fields=["rule", "event_id"], name="scoring_ledger_rule_event"),
            models.UniqueConstraint(fields=["contact", "key"], name="scoring_ledger_contact_key"),
        ]
        indexes = [
            # The contact's ledger, newest first.
            models.Index(fields=["contact", "-created_at", "-id"], name="scoring_ledger_contact"),
            # Daily caps: what a rule gave a contact since the day started.
            models.Index(
                fields=["rule", "contact", "created_at"],
                name="scoring_ledger_cap",
                condition=models.Q(rule__isnull=False),
            ),
        ]
        verbose_name_plural = "score ledger entries"

    def __str__(self) -> str:
        return f"{self.delta:+d} {self.reason}"


class ConditionRuleHit(models.Model):
    """A contact a condition rule currently gives its points to (and how many it gave), so
    the points are reversed exactly when the contact stops matching."""

    rule = models.ForeignKey(ScoringRule, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    points = models.IntegerField()
    created_at = models.DateTimeField(default=now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rule", "contact"], name="scoring_hit_rule_contact")
        ]

    def __str__(self) -> str:
        return f"rule {self.rule_id} -> contact {self.contact_id} ({self.points:+d})"


class PendingScoreEvents(models.Model):
    """Stored events a rule watches, not scored yet: one row per ingest batch (its event ids),
    written in the ingesting transaction; a worker scores them and deletes the row."""

    event_ids = models.JSONField(default=list)
    created_at = models.DateTimeField(default=now)

    class Meta:
        verbose_name_plural = "pending score events"

    def __str__(self) -> str:
        return f"{len(self.event_ids)} events"


class ScoreDecay(models.Model):
    """The workspace's decay (one row): every `every_days` days without activity, a contact's
    positive score loses `percent` % (rounded up), as a ledger row with reason "decay"."""

    active = models.BooleanField(default=False)
    percent = models.PositiveSmallIntegerField(default=10)
    every_days = models.PositiveIntegerField(default=30)

    class Meta:
        verbose_name = "score decay"

    def __str__(self) -> str:
        state = "on" if self.active else "off"
        return f"-{self.percent}% per {self.every_days} days without activity ({state})"
