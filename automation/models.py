"""Flows (versioned journeys), their enrollments and step runs, email templates and the
message log, and the outbox of events that start or resume journeys.

Durable state lives in these rows; Celery only executes. An enrollment waiting for anything
(a duration, a date, an event) is a row with `next_run_at`; the scheduler claims due rows with
SKIP LOCKED (automation.scheduler). Every side effect leaves a row with a unique key: a step
run per (enrollment, step, attempt), a message per idempotency key.
"""

from django.db import models
from django.db.models import Q
from django.utils.timezone import now


class FlowStatus(models.TextChoices):
    DRAFT = "draft"
    ACTIVE = "active"
    PAUSED = "paused"
    ARCHIVED = "archived"


class TriggerType(models.TextChoices):
    SEGMENT_ENTERED = "segment_entered"
    SEGMENT_LEFT = "segment_left"
    EVENT = "event"


class Flow(models.Model):
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=FlowStatus.choices, default=FlowStatus.DRAFT)
    # The editable definition (trigger, reentry, exit_when, goal, holdout_percent, steps), step
    # ids assigned. Activation freezes it into a FlowVersion when it differs from the live one.
    definition = models.JSONField(help_text="Flow JSON: see docs/flows.md")
    # The version new enrollments get; None until the first activation.
    live_version = models.ForeignKey(
        "FlowVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # When it last became active (or changed live version while active), and the last event
    # id stored before then (cleared once the activation sweep has read the events received
    # in the first minutes since): event triggers take events received since the activation
    # (automation.trigger_watch).
    activated_at = models.DateTimeField(null=True, blank=True, editable=False)
    activation_event_id = models.BigIntegerField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class FlowVersion(models.Model):
    """A frozen definition: enrollments run on the version they started on."""

    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    definition = models.JSONField()
    # Copied from definition["trigger"] so trigger lookups are one indexed query.
    trigger_type = models.CharField(max_length=16, choices=TriggerType.choices)
    trigger_segment_id = models.BigIntegerField(null=True, blank=True)
    trigger_event = models.CharField(max_length=200, null=True, blank=True)
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["flow", "number"], name="flow_version_number_unique")
        ]

    def __str__(self) -> str:
        return f"{self.flow} v{self.number}"


class EnrollmentState(models.TextChoices):
    ACTIVE = "active"  # running or waiting: step_id is the next step, due at next_run_at
    COMPLETED = "completed"  # ran past the last step
    EXITED = "exited"  # exit step, exit_when, flow archived, ... (exit_reason says which)
    FAILED = "failed"  # a step failed for good (exit_reason says why)


class Enrollment(models.Model):
    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="enrollments")
    version = models.ForeignKey(FlowVersion, on_delete=models.PROTECT, related_name="enrollments")
    contact = models.ForeignKey(
        "contacts.Contact", on_delete=models.CASCADE, related_name="enrollments"
    )
    state = models.CharField(
        max_length=16, choices=EnrollmentState.choices, default=EnrollmentState.ACTIVE
    )
    step_id = models.CharField(max_length=64, null=True, blank=True, help_text="Next step")
    next_run_at = models.DateTimeField(null=True, blank=True)
    # When the enrollment reached step_id: a wait is due at step_started_at + duration, and
    # wait_for_event counts the events since then.
    step_started_at = models.DateTimeField(null=True, blank=True)
    # True while it sleeps on a wait / wait_until / wait_for_event step, so it may be woken
    # early (an awaited event, an exit_when event): the engine re-checks and sleeps again.
    # False while a step is leased (a send under way) or retrying: never woken early.
    sleeping = models.BooleanField(default=False)
    waiting_for_event = models.CharField(max_length=200, null=True, blank=True)
    # What started it, unique per flow: "event:<id>", "transition:<id>",
    # "activation:<version>:<contact>".
    trigger_key = models.CharField(max_length=100)
    trigger_event = models.ForeignKey(
        "contacts.Event",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_constraint=False,
        related_name="+",
    )
    holdout = models.BooleanField(default=False)
    # Why a send step waits past its moment (frequency cap, quiet hours); cleared when it runs.
    delay_reason = models.CharField(max_length=200, blank=True, default="", db_default="")
    exit_reason = models.CharField(max_length=200, blank=True, default="")
    enrolled_at = models.DateTimeField(default=now)
    ended_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["flow", "trigger_key"], name="enrollment_trigger_once_per_flow"
            ),
            models.UniqueConstraint(
                fields=["flow", "contact"],
                condition=Q(state="active"),
                name="enrollment_one_active_per_contact",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_run_at"], condition=Q(state="active"), name="enrollment_due_idx"
            ),
            models.Index(fields=["contact", "flow"], name="enrollment_contact_flow_idx"),
            models.Index(fields=["flow", "state", "step_id"], name="enrollment_flow_state_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} in {self.flow_id} ({self.state})"


class StepRunStatus(models.TextChoices):
    STARTED = "started"  # side effect under way (a send, a webhook call); committed before it
    DONE = "done"
    FAILED = "failed"


class StepRun(models.Model):
    """The log of steps run: one row per (enrollment, step, attempt), so a replayed task
    cannot run a step twice. `outcome` says which path was taken ("yes", "no", "variant:2",
    "on_event", "on_timeout", "sent", "skipped", ...); `detail` holds what the step recorded
    (a webhook's status and response excerpt, a message id)."""

    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="step_runs")
    step_id = models.CharField(max_length=64)
    attempt = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(max_length=16, choices=StepRunStatus.choices)
    outcome = models.CharField(max_length=64, blank=True, default="")
    detail = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField(default=now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["enrollment", "step_id", "attempt"], name="step_run_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.enrollment_id}/{self.step_id}#{self.attempt} {self.status}"


class EmailLayout(models.Model):
    """An MJML layout around templates' HTML (automation.layouts compiles it once)."""

    name = models.CharField(max_length=200, unique=True)
    mjml = models.TextField(help_text="MJML; {{ content }} marks where the template's HTML goes")
    created_at = models.DateTimeField(default=now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class EmailTemplate(models.Model):
    name = models.CharField(max_length=200, unique=True)
    subject = models.CharField(max_length=500, help_text="Jinja2 (sandboxed)")
    html = models.TextField(help_text="Jinja2 (sandboxed)")
    text = models.TextField(blank=True, default="", help_text="Derived from the HTML when empty")
    # Transactional messages ignore subscription topics (never bounced/complained addresses).
    transactional = models.BooleanField(default=False)
    layout = models.ForeignKey(
        EmailLayout, null=True, blank=True, on_delete=models.PROTECT, related_name="templates"
    )
    # Open pixel and click redirects (automation.tracking); unsubscribe links are never wrapped.
    track_opens = models.BooleanField(default=True, db_default=True)
    track_clicks = models.BooleanField(default=True, db_default=True)
    created_at = models.DateTimeField(default=now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class MessageStatus(models.TextChoices):
    QUEUED = "queued"  # prepared, not handed to the backend yet
    # In the hand-off under way (marked just before it): stays so only if the process died,
    # and is then settled "unknown" (it may have reached the provider).
    SENDING = "sending"
    SENT = "sent"
    SKIPPED = "skipped"
    FAILED = "failed"
    UNKNOWN = "unknown"  # cut off between the hand-off and our record: never retried


class Message(models.Model):
    """The message log: every email a flow (or a test send) meant to send, with its fate."""

    # contact and flow lead the two composite indexes below, which serve their lookups: every
    # send writes each index of this table, so none is kept twice.
    contact = models.ForeignKey(
        "contacts.Contact",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
    )
    template = models.ForeignKey(
        EmailTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    flow = models.ForeignKey(
        Flow,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="messages",
        db_index=False,
    )
    enrollment = models.ForeignKey(
        Enrollment, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    step_id = models.CharField(max_length=64, blank=True, default="")
    # "enrollment:<id>:<step_id>" for flow sends, "test:<uuid>" for test sends; unique by a
    # constraint (unique=True would add a LIKE index no query uses).
    idempotency_key = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=MessageStatus.choices)
    reason = models.CharField(max_length=500, blank=True, default="")
    topic = models.CharField(max_length=64, blank=True, default="")
    is_test = models.BooleanField(default=False)
    to_email = models.CharField(max_length=254, blank=True, default="")
    from_email = models.CharField(max_length=254, blank=True, default="")
    subject = models.CharField(max_length=1000, blank=True, default="")
    html = models.TextField(blank=True, default="")
    text = models.TextField(blank=True, default="")
    headers = models.JSONField(default=dict, blank=True)
    provider_message_id = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(default=now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["contact", "created_at"], name="message_contact_time_idx"),
            models.Index(fields=["flow", "status"], name="message_flow_status_idx"),
            models.Index(fields=["created_at"], name="message_created_idx"),
            # ESP tracking webhooks find the message by the provider's id.
            models.Index(
                fields=["provider_message_id"],
                condition=~Q(provider_message_id=""),
                name="message_provider_id_idx",
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["idempotency_key"], name="message_idempotency_key_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.to_email}: {self.subject} ({self.status})"


class PendingFlowEvent(models.Model):
    """Outbox of stored events that may start or resume journeys, written in the ingesting
    transaction (automation.triggers) for names an active flow listens to, and deleted by the
    transaction that enrolls or resumes (so each event is consumed exactly once)."""

    event_id = models.BigIntegerField(unique=True)
    contact_id = models.BigIntegerField()
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=now)

    def __str__(self) -> str:
        return f"{self.name} #{self.event_id}"


class SendingPolicy(models.Model):
    """Workspace-wide rules for marketing sends (one row, `SendingPolicy.current()`):
    a frequency cap per contact over a rolling window and a send window (quiet hours) in the
    contact's time zone. automation.send_rules applies them; transactional mail is exempt."""

    # At most this many marketing emails per contact per rolling window; null = no cap.
    frequency_cap_count = models.PositiveIntegerField(null=True, blank=True)
    frequency_cap_hours = models.PositiveIntegerField(default=24)
    send_window_enabled = models.BooleanField(default=False)
    send_window_start = models.TimeField(null=True, blank=True)
    send_window_end = models.TimeField(null=True, blank=True)
    # ISO weekdays (1 = Monday ... 7 = Sunday) on which sends may go out.
    send_window_days = models.JSONField(default=list, blank=True)
    # For contacts without a time zone.
    default_timezone = models.CharField(max_length=64, default="UTC")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "sending policy"

    def __str__(self) -> str:
        return "Sending policy"

    @classmethod
    def current(cls) -> "SendingPolicy":
        return cls.objects.order_by("pk").first() or cls()
