"""Billing-provider deliveries (stored raw before anything else) and what Segflow learned from
them: which provider customer is which contact, and each subscription's last applied state
with the provider's own timestamp, so an older event never overwrites newer state."""

from django.db import models
from django.db.models import Q
from django.utils.timezone import now


class Provider(models.TextChoices):
    STRIPE = "stripe"
    CHARGEBEE = "chargebee"
    RECURLY = "recurly"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"
    PROCESSED = "processed"
    FAILED = "failed"
    # The event names only a provider customer id Segflow cannot map to a contact yet; it is
    # processed again as soon as that customer is learned (billing.processing).
    WAITING_CUSTOMER = "waiting_customer"


class WebhookDelivery(models.Model):
    provider = models.CharField(max_length=16, choices=Provider.choices)
    provider_event_id = models.CharField(max_length=255)
    event_type = models.CharField(max_length=100)
    payload = models.JSONField()
    received_at = models.DateTimeField(default=now)
    processed_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    error = models.TextField(blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    # The provider customer a waiting delivery waits for.
    customer_id = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "provider_event_id"], name="webhook_delivery_event_unique"
            ),
        ]
        indexes = [
            models.Index(
                fields=["received_at"],
                condition=Q(status="pending"),
                name="webhook_delivery_pending_idx",
            ),
            models.Index(
                fields=["provider", "customer_id"],
                condition=Q(status="waiting_customer"),
                name="webhook_delivery_waiting_idx",
            ),
        ]
        ordering = ["-received_at"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.provider} {self.event_type} {self.provider_event_id}"


class BillingCustomer(models.Model):
    """A provider's customer id and the contact it belongs to (learned from an event that
    carries the customer's email, or from the provider's API)."""

    provider = models.CharField(max_length=16, choices=Provider.choices)
    customer_id = models.CharField(max_length=255)
    contact = models.ForeignKey(
        "contacts.Contact", on_delete=models.CASCADE, related_name="billing_customers"
    )
    email = models.CharField(max_length=254)
    created_at = models.DateTimeField(default=now, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "customer_id"], name="billing_customer_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.customer_id} ({self.email})"


class BillingSubscription(models.Model):
    """A subscription's state as of `state_at`, the provider's timestamp of the newest event
    applied; the contact's billing fields are derived from these rows."""

    provider = models.CharField(max_length=16, choices=Provider.choices)
    subscription_id = models.CharField(max_length=255)
    customer_id = models.CharField(max_length=255)
    contact = models.ForeignKey(
        "contacts.Contact", on_delete=models.CASCADE, related_name="billing_subscriptions"
    )
    status = models.CharField(max_length=16)
    plan = models.CharField(max_length=255, blank=True, default="")
    mrr = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    currency = models.CharField(max_length=3, blank=True, default="")
    trial_ends_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    canceled_at = models.DateTimeField(null=True, blank=True)
    cancel_at_period_end = models.BooleanField(default=False)
    state_at = models.DateTimeField(help_text="Provider timestamp of the state stored here")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "subscription_id"], name="billing_subscription_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.subscription_id} {self.status}"
