"""Admin pages for email templates and the message log (read-only: the log is a record)."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from automation.models import EmailTemplate, Message
from automation.template_services import (
    TemplateInUse,
    flows_using_template,
    template_delete,
    template_parts_check,
)
from segflow.errors import InvalidInput


class EmailTemplateForm(forms.ModelForm):
    class Meta:
        model = EmailTemplate
        fields = [
            "name",
            "subject",
            "html",
            "text",
            "layout",
            "transactional",
            "track_opens",
            "track_clicks",
        ]

    def clean(self):
        cleaned = super().clean()
        try:
            template_parts_check({part: cleaned.get(part) for part in ("subject", "html", "text")})
        except InvalidInput as exc:
            raise ValidationError({part: msgs for part, msgs in exc.errors.items()}) from None
        return cleaned


@admin.register(EmailTemplate)
class EmailTemplateAdmin(admin.ModelAdmin):
    form = EmailTemplateForm
    list_display = ["name", "subject", "transactional", "updated_at"]
    list_filter = ["transactional"]
    search_fields = ["name", "subject"]

    def delete_model(self, request, obj):
        try:
            template_delete(template=obj)
        except TemplateInUse as exc:
            self.message_user(request, str(exc), level=messages.ERROR)

    def delete_queryset(self, request, queryset):
        for template in queryset:
            self.delete_model(request, template)

    def get_deleted_objects(self, objs, request):
        """Templates a flow may still send show as protected: the page refuses to delete."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        for template in objs:
            flows = flows_using_template(template=template)
            if flows:
                protected.append(f"{template}: sent by {', '.join(map(str, flows))}")
        return deleted, counts, perms_needed, protected


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["to_email", "subject", "status", "reason", "flow", "is_test", "created_at"]
    list_filter = ["status", "is_test", "flow"]
    search_fields = ["to_email", "subject", "idempotency_key", "provider_message_id"]
    date_hierarchy = "created_at"
    list_select_related = ["flow"]
    raw_id_fields = ["contact", "template", "flow", "enrollment"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
