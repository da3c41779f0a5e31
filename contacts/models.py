"""Contacts, their custom fields, tags, events, subscription topics, API keys and imports."""

from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.timezone import now


class EmailStatus(models.TextChoices):
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    COMPLAINED = "complained"


class Contact(models.Model):
    # Stored lower-cased (contacts.builtins.normalize_email) so the plain unique index serves
    # case-insensitive lookups; the check constraint keeps every write path honest.
    email = models.CharField(max_length=254, null=True, blank=True)
    first_name = models.CharField(max_length=150, null=True, blank=True)
    last_name = models.CharField(max_length=150, null=True, blank=True)
    country = models.CharField(max_length=2, null=True, blank=True, help_text="ISO 3166 alpha-2")
    timezone = models.CharField(max_length=64, null=True, blank=True, help_text="IANA name")
    external_id = models.CharField(max_length=255, null=True, blank=True)
    email_status = models.CharField(
        max_length=16, choices=EmailStatus.choices, default=EmailStatus.ACTIVE
    )
    lead_score = models.IntegerField(default=0)
    last_activity_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    fields = models.JSONField(default=dict, blank=True, help_text="Custom field values by key")
    tags = models.ManyToManyField("Tag", through="ContactTag", related_name="contacts", blank=True)

    class Meta:
        constraints = [
            # Constraints, not unique=True: that would add varchar_pattern_ops twins of these
            # indexes that no lookup uses and every contact write pays for.
            models.UniqueConstraint(fields=["email"], name="contact_email_unique"),
            models.UniqueConstraint(fields=["external_id"], name="contact_external_id_unique"),
            models.CheckConstraint(
                condition=Q(email__isnull=False) | Q(external_id__isnull=False),
                name="contact_has_email_or_external_id",
            ),
            models.CheckConstraint(
                condition=Q(email__isnull=True) | Q(email=Lower("email")),
                name="contact_email_lowercase",
            ),
            # Stored as contacts.builtins.normalize_country gives it; segment conditions on
            # country then compare the column itself instead of lower() of every row.
            models.CheckConstraint(
                condition=Q(country__isnull=True) | Q(country__regex=r"^[A-Z]{2}$"),
                name="contact_country_alpha2_upper",
            ),
        ]
        # last_activity_at and lead_score change all the time (every event, every score
        # rule) and are not indexed, so those updates stay HOT: no index writes at all.
        # Segments read them in a scan of this table, which they do anyway.
        indexes = [models.Index(fields=["created_at"], name="contact_created_at_idx")]

    def __str__(self) -> str:
        return self.email or f"external:{self.external_id}"


class Tag(models.Model):
    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(Lower("name"), name="tag_name_ci_unique")]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ContactTag(models.Model):
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE)
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE)
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["contact", "tag"], name="contact_tag_unique"),
        ]
        indexes = [models.Index(fields=["tag", "contact"], name="contacttag_tag_contact_idx")]

    def __str__(self) -> str:
        return f"{self.contact} #{self.tag}"


class FieldType(models.TextChoices):
    TEXT = "text"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    CHOICE = "choice"


class CustomField(models.Model):
    key = models.SlugField(max_length=64, unique=True)
    label = models.CharField(max_length=200)
    type = models.CharField(max_length=16, choices=FieldType.choices)
    choices = models.JSONField(default=list, blank=True)
    source = models.CharField(max_length=32, default="manual")
    description = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return self.key


class Event(models.Model):
    # No index of its own: event_contact_name_time_idx starts with contact_id and serves
    # every lookup by contact. A second one cost a write per event, and on bad row estimates
    # the planner probed it for "not performed X in 7 days", reading all of a contact's
    # events instead of the few in the window (docs/benchmarks.md, Segments).
    contact = models.ForeignKey(
        Contact, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    name = models.CharField(max_length=200)
    properties = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(default=now)
    source = models.CharField(max_length=32, default="api")
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="event_idempotency_key_unique",
            ),
        ]
        indexes = [
            # "did contact X perform N since T" (segment conditions, explain)
            models.Index(
                fields=["contact", "name", "occurred_at"], name="event_contact_name_time_idx"
            ),
            # "who performed N since T" (segment evaluation, event lists). contact_id last, so
            # a window's contacts come from the index alone (an index-only scan): the shape of
            # a full evaluation's semi-joins (docs/benchmarks.md, Segments). A key column, not
            # INCLUDE, which SQLite lacks.
            models.Index(fields=["name", "occurred_at", "contact"], name="event_name_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} @ {self.occurred_at:%Y-%m-%d %H:%M}"


class SubscriptionTopic(models.Model):
    key = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    default_opt_in = models.BooleanField(
        default=True, help_text="Contacts without a choice of their own count as subscribed."
    )
    # Opting in sends a confirmation email; the status is "pending" until its link is followed.
    double_opt_in = models.BooleanField(default=False, db_default=False)
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return self.name


class SubscriptionStatus(models.TextChoices):
    SUBSCRIBED = "subscribed"
    UNSUBSCRIBED = "unsubscribed"
    PENDING = "pending"  # double opt-in: asked, confirmation link not followed yet


class ContactSubscription(models.Model):
    """A contact's own choice for a topic; without a row the topic's default applies."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="subscriptions")
    topic = models.ForeignKey(SubscriptionTopic, on_delete=models.CASCADE)
    status = models.CharField(max_length=16, choices=SubscriptionStatus.choices)
    source = models.CharField(max_length=32, default="api")
    updated_at = models.DateTimeField(default=now)
    confirmed_at = models.DateTimeField(null=True, blank=True, help_text="Double opt-in")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["contact", "topic"], name="contact_topic_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.contact} {self.status} to {self.topic}"


class ApiKey(models.Model):
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, help_text="First characters, to recognise the key")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class ImportStatus(models.TextChoices):
    DRAFT = "draft"  # uploaded through the web pages, columns not yet mapped
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ContactImport(models.Model):
    """A CSV import. The file lives in the row so any worker host can process it; progress is
    committed per chunk so a crashed worker resumes where it stopped."""

    filename = models.CharField(max_length=255, blank=True, default="")
    csv_text = models.TextField()
    mapping = models.JSONField(default=dict, help_text="CSV column -> field key ('' ignores)")
    tags = models.JSONField(default=list, blank=True, help_text="Tags added to every row")
    status = models.CharField(max_length=16, choices=ImportStatus.choices, default="pending")
    total_rows = models.IntegerField(default=0)
    processed_rows = models.IntegerField(default=0)
    created_count = models.IntegerField(default=0)
    updated_count = models.IntegerField(default=0)
    error_count = models.IntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    failure = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=now, editable=False)
    claimed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Import #{self.pk} {self.filename} ({self.status})"
