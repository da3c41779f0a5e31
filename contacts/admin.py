from django import forms
from django.contrib import admin
from django.db import transaction

from contacts import builtins
from contacts.field_types import field_definitions, normalize_custom_fields
from contacts.field_usage import custom_field_readers
from contacts.models import (
    ApiKey,
    Contact,
    ContactImport,
    ContactSubscription,
    ContactTag,
    CustomField,
    Event,
    SubscriptionTopic,
    Tag,
)
from contacts.services import contact_delete, custom_field_delete
from contacts.signals import notify_contacts_changed


class ContactAdminForm(forms.ModelForm):
    """The admin is one more write path: it normalises like the API does."""

    class Meta:
        model = Contact
        fields = [
            "email",
            "first_name",
            "last_name",
            "country",
            "timezone",
            "external_id",
            "email_status",
            "lead_score",
            "fields",
        ]

    def _normalize(self, name, function, **kwargs):
        try:
            return function(self.cleaned_data.get(name), **kwargs)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_email(self):
        value = self.cleaned_data.get("email")
        return None if not value else self._normalize("email", builtins.normalize_email)

    def clean_first_name(self):
        return self._normalize("first_name", builtins.normalize_optional_text, max_length=150)

    def clean_last_name(self):
        return self._normalize("last_name", builtins.normalize_optional_text, max_length=150)

    def clean_country(self):
        return self._normalize("country", builtins.normalize_country)

    def clean_timezone(self):
        return self._normalize("timezone", builtins.normalize_timezone)

    def clean_external_id(self):
        return self._normalize("external_id", builtins.normalize_optional_text, max_length=255)

    def clean_fields(self):
        cleaned, errors = normalize_custom_fields(
            self.cleaned_data.get("fields") or {}, definitions=field_definitions()
        )
        if errors:
            raise forms.ValidationError(
                [f"{path}: {msg}" for path, msgs in errors.items() for msg in msgs]
            )
        return {key: value for key, value in cleaned.items() if value is not None}


def _contact_form_changes(form) -> set[str]:
    """The contacts_changed kinds of an admin edit, as the API would announce them."""
    changes = {f"field:{name}" for name in form.changed_data if name != "fields"}
    if "fields" in form.changed_data:
        before, after = form.initial.get("fields") or {}, form.cleaned_data.get("fields") or {}
        changes |= {
            f"fields.{key}"
            for key in before.keys() | after.keys()
            if before.get(key) != after.get(key)
        }
    return changes


class AnnouncesContactChanges:
    """Admin writes of rows that belong to a contact reach segments, as API writes do."""

    def change_kinds(self, obj) -> list[str]:
        raise NotImplementedError

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        notify_contacts_changed([obj.contact_id], self.change_kinds(obj))

    def delete_model(self, request, obj):
        contact_id, kinds = obj.contact_id, self.change_kinds(obj)
        super().delete_model(request, obj)
        notify_contacts_changed([contact_id], kinds)

    @transaction.atomic
    def delete_queryset(self, request, queryset):
        announced = [(obj.contact_id, self.change_kinds(obj)) for obj in queryset]
        super().delete_queryset(request, queryset)
        for contact_id, kinds in announced:
            notify_contacts_changed([contact_id], kinds)


class ContactTagInline(admin.TabularInline):
    model = ContactTag
    extra = 0
    autocomplete_fields = ["tag"]


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    form = ContactAdminForm
    list_display = [
        "email",
        "first_name",
        "last_name",
        "country",
        "email_status",
        "lead_score",
        "last_activity_at",
        "created_at",
    ]
    list_filter = ["email_status", "country"]
    search_fields = ["email", "first_name", "last_name", "external_id"]
    readonly_fields = ["created_at", "updated_at", "last_activity_at"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        notify_contacts_changed([obj.pk], _contact_form_changes(form))

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if any(formset.has_changed() for formset in formsets):
            notify_contacts_changed([form.instance.pk], ["tags"])

    def delete_model(self, request, obj):
        contact_delete(contact=obj)

    @transaction.atomic
    def delete_queryset(self, request, queryset):
        contact_ids = list(queryset.values_list("pk", flat=True))
        super().delete_queryset(request, queryset)
        notify_contacts_changed(contact_ids, ["deleted"])

    inlines = [ContactTagInline]
    show_full_result_count = False


@admin.register(ContactTag)
class ContactTagAdmin(AnnouncesContactChanges, admin.ModelAdmin):
    def change_kinds(self, obj) -> list[str]:
        return ["tags"]

    list_display = ["contact", "tag", "created_at"]
    list_select_related = ["contact", "tag"]
    raw_id_fields = ["contact"]
    autocomplete_fields = ["tag"]
    search_fields = ["contact__email", "tag__name"]


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "created_at"]
    search_fields = ["name"]


@admin.register(CustomField)
class CustomFieldAdmin(admin.ModelAdmin):
    list_display = ["key", "label", "type", "source"]
    list_filter = ["type", "source"]
    search_fields = ["key", "label"]

    def get_readonly_fields(self, request, obj=None):
        # Stored values and segment conditions depend on both, as in the API.
        return ["key", "type"] if obj is not None else []

    def get_deleted_objects(self, objs, request):
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        # Segments name fields by key, not by foreign key: list them as what protects a field.
        readers = [
            f"{reader} reads '{field.key}'"
            for field in objs
            for reader in custom_field_readers(key=field.key)
        ]
        return deleted, counts, perms_needed, [*protected, *readers]

    def delete_model(self, request, obj):
        custom_field_delete(field=obj)  # also removes its values from every contact

    def delete_queryset(self, request, queryset):
        for field in queryset:
            custom_field_delete(field=field)


@admin.register(Event)
class EventAdmin(AnnouncesContactChanges, admin.ModelAdmin):
    def change_kinds(self, obj) -> list[str]:
        return [f"event:{obj.name}"]

    list_display = ["name", "contact", "occurred_at", "received_at", "source"]
    list_filter = ["source"]
    search_fields = ["name", "contact__email"]
    raw_id_fields = ["contact"]
    date_hierarchy = "occurred_at"
    list_select_related = ["contact"]
    show_full_result_count = False


@admin.register(SubscriptionTopic)
class SubscriptionTopicAdmin(admin.ModelAdmin):
    list_display = ["key", "name", "default_opt_in"]


@admin.register(ContactSubscription)
class ContactSubscriptionAdmin(AnnouncesContactChanges, admin.ModelAdmin):
    def change_kinds(self, obj) -> list[str]:
        return ["subscriptions"]

    list_display = ["contact", "topic", "status", "updated_at"]
    list_filter = ["topic", "status"]
    raw_id_fields = ["contact"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "created_at", "last_used_at"]
    fields = ["name", "prefix", "created_at", "last_used_at", "revoked_at"]

    def has_add_permission(self, request):
        # Keys are made by `manage.py create_api_key`, which shows the secret once.
        return False


@admin.register(ContactImport)
class ContactImportAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "filename",
        "status",
        "processed_rows",
        "total_rows",
        "error_count",
        "created_at",
    ]
    exclude = ["csv_text"]
    readonly_fields = [
        "status",
        "total_rows",
        "processed_rows",
        "created_count",
        "updated_count",
        "error_count",
        "errors",
        "failure",
        "claimed_at",
        "finished_at",
    ]
