"""Segments: stored condition trees, their memberships over time, and the transitions outbox."""

from django.db import models
from django.db.models import Q
from django.utils.timezone import now


class Segment(models.Model):
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    conditions = models.JSONField(help_text="Condition tree: see docs/segments.md")
    # Derived from `conditions` when saved (segments.validation), so schedulers can query them.
    depends_on = models.ManyToManyField(
        "self", symmetrical=False, related_name="dependents", blank=True
    )
    # Change kinds (contacts.signals) that can alter membership, e.g. "field:country",
    # "fields.plan", "event:login", "tags", "subscriptions", "segment:7".
    dependency_keys = models.JSONField(default=list, blank=True)
    is_time_relative = models.BooleanField(
        default=False, help_text="Has relative windows, so membership changes as time passes"
    )
    refresh_interval = models.PositiveIntegerField(
        default=300, help_text="Seconds between re-evaluations of a time-relative segment"
    )
    size = models.IntegerField(default=0)
    # Set when an evaluation fails (a condition that cannot run): the segment is skipped by
    # background evaluation until its conditions change. Cleared by a successful evaluation.
    failed_at = models.DateTimeField(null=True, blank=True)
    failure_reason = models.TextField(blank=True, default="")
    last_evaluated_at = models.DateTimeField(null=True, blank=True)
    next_evaluation_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["next_evaluation_at"], name="segment_next_eval_idx")]

    def __str__(self) -> str:
        return self.name


class MembershipQuerySet(models.QuerySet):
    def current(self) -> "MembershipQuerySet":
        """Stays not yet ended: the segment's members now."""
        return self.filter(left_at__isnull=True)


class SegmentMembership(models.Model):
    """One stay of a contact in a segment; `left_at` is null while the contact is in."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="memberships")
    contact = models.ForeignKey(
        "contacts.Contact", on_delete=models.CASCADE, related_name="segment_memberships"
    )
    entered_at = models.DateTimeField()
    left_at = models.DateTimeField(null=True, blank=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["segment", "contact"],
                condition=Q(left_at__isnull=True),
                name="membership_one_current_stay",
            ),
        ]
        indexes = [
            models.Index(
                fields=["contact", "segment"],
                condition=Q(left_at__isnull=True),
                name="membership_current_by_contact",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} in {self.segment_id} since {self.entered_at:%Y-%m-%d %H:%M}"


class TransitionKind(models.TextChoices):
    ENTERED = "entered"
    LEFT = "left"


class TransactionId(models.Func):
    """The id of the inserting transaction (PostgreSQL's txid_current()), as a column default.

    A transition's id is taken when it is inserted, not when it commits, so a reader that
    followed ids alone could pass over a row whose transaction commits later. Readers of the
    feed (segments.feed) order by (xact_id, id) instead and read only rows of transactions
    older than every transaction still running. SQLite runs one writer at a time: 0 there.
    """

    function = "txid_current"
    template = "%(function)s()"
    output_field = models.BigIntegerField()

    def as_sqlite(self, compiler, connection, **extra_context):
        return "0", []


class SegmentTransition(models.Model):
    """Outbox of membership changes, written in the evaluation's transaction and read by any
    number of consumers (flows, outgoing webhooks, reports), each at its own cursor
    (TransitionConsumer, segments.feed)."""

    # No index of its own: transition_segment_time and transition_segment_feed start with it.
    segment = models.ForeignKey(
        Segment, on_delete=models.CASCADE, related_name="transitions", db_index=False
    )
    # No database constraint: the `left` transitions of a deleted contact outlive it, so
    # consumers still hear that it left.
    contact = models.ForeignKey(
        "contacts.Contact", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    kind = models.CharField(max_length=8, choices=TransitionKind.choices)
    occurred_at = models.DateTimeField()
    xact_id = models.BigIntegerField(db_default=TransactionId(), editable=False)

    class Meta:
        indexes = [
            models.Index(fields=["xact_id", "id"], name="transition_feed_order"),
            # A consumer reading some segments only (segments.feed, the flows' triggers).
            models.Index(fields=["segment", "xact_id", "id"], name="transition_segment_feed"),
            models.Index(fields=["segment", "occurred_at"], name="transition_segment_time"),
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} {self.kind} {self.segment_id}"


class TransitionConsumer(models.Model):
    """One reader of the transitions feed and how far it has read: the position of the last
    transition it consumed, advanced in the consumer's own transaction (segments.feed)."""

    name = models.SlugField(max_length=100, unique=True)
    last_xact_id = models.BigIntegerField(default=0)
    last_transition_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name} at {self.last_transition_id}"


class SegmentDailyStats(models.Model):
    """Size and entered/left counts per segment and UTC day, for charts."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="daily_stats")
    day = models.DateField()
    size = models.IntegerField(default=0)
    entered = models.IntegerField(default=0)
    left = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["segment", "day"], name="segment_stats_one_per_day")
        ]
        verbose_name = "segment daily stats"
        verbose_name_plural = "segment daily stats"

    def __str__(self) -> str:
        return f"{self.segment_id} {self.day}: {self.size}"


class PendingContactChange(models.Model):
    """Contacts changed by one write (an API call, an event batch, a CSV chunk) whose segments
    are not yet re-evaluated: a durable work queue, written in the writer's transaction.

    One row per write, not per contact: a 1,000-event batch adds one row, not ~900
    (bench/ingest.py). Append-only, so writers never wait on a worker's claim; workers claim
    rows with SELECT ... FOR UPDATE SKIP LOCKED and delete them in the transaction that
    re-evaluates.
    """

    # Ids, not foreign keys: a deleted contact still has to leave its segments' sizes.
    contact_ids = models.JSONField(default=list)
    # len(contact_ids), so a worker can claim about N contacts' worth of rows in SQL.
    contact_count = models.PositiveIntegerField(default=0)
    changes = models.JSONField(default=list)
    created_at = models.DateTimeField(default=now)

    def __str__(self) -> str:
        return f"{self.contact_count} contacts: {', '.join(self.changes)}"
