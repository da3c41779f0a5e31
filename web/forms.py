"""Forms of the marketer pages. They only shape what the browser sends; every rule is the
services' (contacts.contact_input, contacts.field_services), whose errors, keyed by JSON path,
come back onto the form field they name (`form_errors_add`)."""

from django import forms
from django.utils import timezone

from contacts.models import Contact, CustomField, FieldType
from segments.models import Segment
from web.contact_field_filter import field_filter_choices, field_filter_q

BUILTIN_LABELS = {
    "email": "Email",
    "first_name": "First name",
    "last_name": "Last name",
    "external_id": "External id",
    "country": "Country (2-letter code)",
    "timezone": "Time zone",
}
CUSTOM_PREFIX = "cf_"


def form_errors_add(form: forms.Form, errors: dict[str, list[str]], paths: dict[str, str]) -> None:
    """Put a service's errors on `form`: `paths` maps a JSON path's first part to a form field
    ("fields.plan" -> "cf_plan" is done by the caller); unknown paths become form errors."""
    for path, messages in errors.items():
        name = paths.get(path) or paths.get(path.split("[", 1)[0])
        for message in messages:
            if name in form.fields:
                form.add_error(name, message)
            else:
                form.add_error(None, f"{path}: {message}" if path else message)


class ContactFilterForm(forms.Form):
    q = forms.CharField(label="Search", required=False, max_length=254)
    segment = forms.ModelChoiceField(
        queryset=Segment.objects.only("id", "name"),
        required=False,
        empty_label="Any segment",
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    tag = forms.CharField(required=False, max_length=100)
    field = forms.ChoiceField(
        required=False, widget=forms.Select(attrs={"class": "form-select"}), choices=()
    )
    value = forms.CharField(required=False, max_length=254)
    # Set by the "show partial matches" link: search inside emails and names even when an
    # email or external id equals the term.
    partial = forms.BooleanField(required=False, widget=forms.HiddenInput)
    after = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)
    before = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["field"].choices = [("", "Any field"), *field_filter_choices()]

    def clean(self):
        cleaned = super().clean()
        key, value = cleaned.get("field"), (cleaned.get("value") or "").strip()
        cleaned["field_q"] = None
        if key and value:
            try:
                cleaned["field_q"] = field_filter_q(key=key, value=value, now=timezone.now())
            except ValueError as exc:
                self.add_error("value", str(exc))
        elif key or value:
            self.add_error("value" if key else "field", "Pick a field and enter a value.")
        return cleaned


def _custom_input(field: CustomField, value: object) -> forms.Field:
    label = field.label or field.key
    attrs = {"class": "form-control"}
    if field.type == FieldType.CHOICE:
        options = [("", "—"), *((choice, choice) for choice in field.choices)]
        if isinstance(value, str) and value not in field.choices:
            options.append((value, f"{value} (no longer a choice)"))
        widget = forms.Select(choices=options, attrs={"class": "form-select"})
    elif field.type == FieldType.BOOLEAN:
        widget = forms.Select(
            choices=[("", "—"), ("true", "Yes"), ("false", "No")], attrs={"class": "form-select"}
        )
        value = "" if value is None else ("true" if value else "false")
    elif field.type == FieldType.DATE:
        widget = forms.DateInput(attrs={**attrs, "type": "date"})
    elif field.type == FieldType.DATETIME:
        label = f"{label} (UTC)"
        widget = forms.DateTimeInput(attrs={**attrs, "type": "datetime-local", "step": "1"})
        value = value.removesuffix("Z") if isinstance(value, str) else value
    elif field.type == FieldType.NUMBER:
        widget = forms.TextInput(attrs={**attrs, "inputmode": "decimal"})
    else:
        widget = forms.TextInput(attrs=attrs)
    initial = "" if value is None else str(value)
    return forms.CharField(label=label, required=False, initial=initial, widget=widget, strip=True)


class ContactEditForm(forms.Form):
    """Built-in columns, custom fields and tags of one contact, as text; `contact_input()`
    is the API-shaped body of what the marketer changed."""

    def __init__(self, *args, contact: Contact, definitions: list[CustomField], **kwargs):
        super().__init__(*args, **kwargs)
        for key, label in BUILTIN_LABELS.items():
            self.fields[key] = forms.CharField(
                label=label,
                required=False,
                initial=getattr(contact, key) or "",
                widget=forms.TextInput(attrs={"class": "form-control"}),
            )
        self.fields["email"].widget.input_type = "email"
        self.custom_keys = [field.key for field in definitions]
        for field in definitions:
            self.fields[CUSTOM_PREFIX + field.key] = _custom_input(
                field, contact.fields.get(field.key)
            )
        tags = sorted((tag.name for tag in contact.tags.all()), key=str.lower)
        self.fields["tags"] = forms.CharField(
            required=False,
            initial=", ".join(tags),
            help_text="Separate tags with commas.",
            widget=forms.TextInput(attrs={"class": "form-control"}),
        )

    def builtin_fields(self):
        return [self[key] for key in BUILTIN_LABELS]

    def custom_fields(self):
        return [self[CUSTOM_PREFIX + key] for key in self.custom_keys]

    def contact_input(self) -> dict:
        body: dict = {}
        for name in self.changed_data:
            value = self.cleaned_data[name]
            if name in BUILTIN_LABELS:
                body[name] = value or None
            elif name == "tags":
                body["tags"] = [tag.strip() for tag in value.split(",") if tag.strip()]
            else:
                body.setdefault("fields", {})[name.removeprefix(CUSTOM_PREFIX)] = value or None
        return body

    def add_input_errors(self, errors: dict[str, list[str]]) -> None:
        paths = {key: key for key in BUILTIN_LABELS} | {"tags": "tags"}
        paths |= {f"fields.{key}": CUSTOM_PREFIX + key for key in self.custom_keys}
        form_errors_add(self, errors, paths)


def _choices_from_text(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


_CHOICES_HELP = "One choice per line (choice fields only)."


class CustomFieldCreateForm(forms.Form):
    label = forms.CharField(max_length=200)
    key = forms.CharField(
        max_length=64,
        help_text="Lower-case letters, digits and underscores; used in the API and CSV files. "
        "It cannot change later.",
    )
    type = forms.ChoiceField(choices=FieldType.choices)
    choices = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 4}), help_text=_CHOICES_HELP
    )
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def clean_choices(self) -> list[str]:
        return _choices_from_text(self.cleaned_data["choices"])

    def add_input_errors(self, errors: dict[str, list[str]]) -> None:
        form_errors_add(self, errors, {name: name for name in self.fields})


class CustomFieldEditForm(forms.Form):
    label = forms.CharField(max_length=200)
    choices = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 5}), help_text=_CHOICES_HELP
    )
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, field: CustomField, **kwargs):
        kwargs.setdefault(
            "initial",
            {
                "label": field.label,
                "choices": "\n".join(field.choices),
                "description": field.description,
            },
        )
        super().__init__(*args, **kwargs)
        self.is_choice = field.type == FieldType.CHOICE
        if not self.is_choice:
            del self.fields["choices"]

    def clean_choices(self) -> list[str]:
        return _choices_from_text(self.cleaned_data["choices"])

    def changes(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.changed_data}

    def add_input_errors(self, errors: dict[str, list[str]]) -> None:
        form_errors_add(self, errors, {name: name for name in self.fields})


class ApiKeyCreateForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="Who or what uses the key, e.g. 'website'.")
