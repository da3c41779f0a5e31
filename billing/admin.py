from django.contrib import admin, messages

from billing.deliveries import delivery_reprocess
from billing.models import BillingCustomer, BillingSubscription, WebhookDelivery


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "received_at",
        "provider",
        "event_type",
        "provider_event_id",
        "status",
        "attempts",
        "short_error",
    ]
    list_filter = ["status", "provider"]
    search_fields = ["provider_event_id", "event_type", "customer_id"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
    actions = ["reprocess"]

    @admin.display(description="error")
    def short_error(self, delivery: WebhookDelivery) -> str:
        return delivery.error[:120]

    @admin.action(description="Reprocess selected failed or waiting deliveries")
    def reprocess(self, request, queryset):
        queued = sum(delivery_reprocess(delivery=delivery) for delivery in queryset)
        skipped = queryset.count() - queued
        self.message_user(
            request,
            f"{queued} queued again, {skipped} skipped (pending or processed).",
            messages.SUCCESS if queued else messages.WARNING,
        )

    def has_add_permission(self, request) -> bool:
        return False  # deliveries come from providers only

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(BillingCustomer)
class BillingCustomerAdmin(admin.ModelAdmin):
    list_display = ["provider", "customer_id", "email", "contact", "created_at"]
    list_filter = ["provider"]
    search_fields = ["customer_id", "email"]
    raw_id_fields = ["contact"]


@admin.register(BillingSubscription)
class BillingSubscriptionAdmin(admin.ModelAdmin):
    list_display = ["provider", "subscription_id", "status", "plan", "mrr", "currency", "state_at"]
    list_filter = ["provider", "status"]
    search_fields = ["subscription_id", "customer_id"]
    raw_id_fields = ["contact"]
    readonly_fields = ["state_at", "updated_at"]
