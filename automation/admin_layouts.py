"""Admin pages for email layouts: MJML checked as the API checks it; a layout that templates
use cannot be deleted (the admin lists them as protected)."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from automation.layouts import layout_check
from automation.models import EmailLayout
from segflow.errors import InvalidInput


class EmailLayoutForm(forms.ModelForm):
    class Meta:
        model = EmailLayout
        fields = ["name", "mjml"]

    def clean_mjml(self):
        mjml = self.cleaned_data["mjml"]
        try:
            layout_check(mjml)
        except InvalidInput as exc:
            raise ValidationError(exc.errors["mjml"]) from None
        return mjml


@admin.register(EmailLayout)
class EmailLayoutAdmin(admin.ModelAdmin):
    form = EmailLayoutForm
    list_display = ["name", "template_count", "updated_at"]
    search_fields = ["name"]

    @admin.display(description="templates")
    def template_count(self, obj: EmailLayout) -> int:
        return obj.templates.count()
