"""Bootstrap rendering of a form field: label, input, error and help, linked for screen
readers (aria-describedby / aria-invalid)."""

from django import forms, template

register = template.Library()


@register.inclusion_tag("web/_field.html")
def form_field(field: forms.BoundField):
    widget = field.field.widget
    css = "form-select" if isinstance(widget, forms.Select) else "form-control"
    attrs = {"class": css + (" is-invalid" if field.errors else "")}
    described_by = []
    if field.errors:
        attrs["aria-invalid"] = "true"
        described_by.append(f"{field.auto_id}_error")
    if field.help_text:
        described_by.append(f"{field.auto_id}_help")
    if described_by:
        attrs["aria-describedby"] = " ".join(described_by)
    return {"field": field, "widget": field.as_widget(attrs=attrs)}
