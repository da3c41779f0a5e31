"""Admin page of the workspace's sending policy (one row): the same rules as the settings
page (automation.send_rules.sending_policy_problems)."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from automation.models import SendingPolicy
from automation.send_rules import POLICY_FIELDS, sending_policy_problems


class SendingPolicyForm(forms.ModelForm):
    class Meta:
        model = SendingPolicy
        fields = list(POLICY_FIELDS)

    def clean(self):
        cleaned = super().clean()
        values = {name: cleaned.get(name) for name in POLICY_FIELDS}
        if isinstance(values["default_timezone"], str):
            values["default_timezone"] = values["default_timezone"].strip()
            cleaned["default_timezone"] = values["default_timezone"]
        problems = {
            name: problem
            for name, problem in sending_policy_problems(values).items()
            if name not in self.errors
        }
        if problems:
            raise ValidationError(problems)
        return cleaned


@admin.register(SendingPolicy)
class SendingPolicyAdmin(admin.ModelAdmin):
    form = SendingPolicyForm
    list_display = [
        "__str__",
        "frequency_cap_count",
        "frequency_cap_hours",
        "send_window_enabled",
        "send_window_start",
        "send_window_end",
        "default_timezone",
        "updated_at",
    ]

    def has_add_permission(self, request) -> bool:
        """One policy for the workspace: add it once, then edit it."""
        return super().has_add_permission(request) and not SendingPolicy.objects.exists()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
