"""Admin pages for email templates and the message log."""

from django.contrib import admin

from automation.models import EmailTemplate, Message


@admin.register(EmailTemplate)
class EmailTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "subject", "transactional", "updated_at"]
    search_fields = ["name", "subject"]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["to_email", "subject", "status", "reason", "flow", "created_at"]
    list_filter = ["status", "is_test"]
    search_fields = ["to_email", "subject", "idempotency_key"]
    raw_id_fields = ["contact", "template", "flow", "enrollment"]
