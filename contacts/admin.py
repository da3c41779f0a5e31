from django import forms
from django.contrib import admin
from django.db import transaction
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from contacts.builtins import BUILTIN_INPUTS
from contacts.contact_input import contact_input_clean
from contacts.field_services import (
    custom_field_create,
    custom_field_definition_check,
    custom_field_delete,
    custom_field_update,
)
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
from contacts.scoring import contacts_score_adjust
from contacts.services import contact_delete, contact_update, contact_upsert
from contacts.signals import notify_contacts_changed, notify_contacts_deleting
from segflow.errors import InvalidInput

# Columns Segflow maintains that a staff user may still correct by hand.
ADMIN_ONLY_COLUMNS = ["email_status", "lead_score"]
RECENT_EVENTS = 10
ADMIN_SCORE = "admin: score corrected"


class ContactAdminForm(forms.ModelForm):
    """The admin is one more write path: its values are cleaned like an API body
    (contacts.contact_input) and written by contacts.services (ContactAdmin.save_model)."""

    class Meta:
        model = Contact
        fields = [*BUILTIN_INPUTS, *ADMIN_ONLY_COLUMNS, "fields"]

    def clean(self):
        cleaned = super().clean()
        data = {key: cleaned[key] for key in BUILTIN_INPUTS if key in cleaned}
        if "fields" in cleaned:
            data["fields"] = cleaned["fields"] if cleaned["fields"] is not None else {}
        try:
            clean = contact_input_clean(data)
        except InvalidInput as exc:
            for path, messages in exc.errors.items():
                name = path.split(".", 1)[0]  # "fields.plan" is shown on the fields box
                for message in messages:
                    self.add_error(name, message if path == name else f"{path}: {message}")
            return cleaned
        cleaned.update(clean.values)
        if clean.fields is not None:
            # The box holds every value: a key it lacks is removed, not kept.
            cleaned["fields"] = {k: v for k, v in clean.fields.items() if v is not None}
        return cleaned


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
    readonly_fields = ["created_at", "updated_at", "last_activity_at", "recent_events"]

    def save_model(self, request, obj, form, change):
        """Through contacts.services, as the API writes: they announce what changed."""
        values = {name: form.cleaned_data[name] for name in [*BUILTIN_INPUTS, *ADMIN_ONLY_COLUMNS]}
        # The score is its ledger's sum: a corrected score is a manual ledger row, not a write.
        score = values.pop("lead_score")
        if not change:
            contact, _ = contact_upsert(values=values, fields=form.cleaned_data["fields"])
            obj.pk = contact.pk
            contacts_score_adjust(contact_ids=[contact.pk], delta=score, reason=ADMIN_SCORE)
        else:
            before_score = form.initial.get("lead_score") or 0
            contacts_score_adjust(
                contact_ids=[obj.pk], delta=score - before_score, reason=ADMIN_SCORE
            )
            before, after = form.initial.get("fields") or {}, form.cleaned_data["fields"]
            contact_update(
                contact=obj,
                values={k: v for k, v in values.items() if form.initial.get(k) != v},
                fields={
                    key: after.get(key)
                    for key in before.keys() | after.keys()
                    if before.get(key) != after.get(key)
                },
            )
        obj.refresh_from_db()

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if any(formset.has_changed() for formset in formsets):
            notify_contacts_changed([form.instance.pk], ["tags"])

    def delete_model(self, request, obj):
        contact_delete(contact=obj)

    @transaction.atomic
    def delete_queryset(self, request, queryset):
        notify_contacts_deleting(queryset.values_list("pk", flat=True))
        super().delete_queryset(request, queryset)

    @admin.display(description="Events")
    def recent_events(self, obj) -> str:
        """The latest few, and a link to all of them (a contact may have millions)."""
        if obj.pk is None:
            return "-"
        events = Event.objects.filter(contact_id=obj.pk)
        url = reverse("admin:contacts_event_changelist") + f"?contact__id__exact={obj.pk}"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (event.occurred_at, event.name, event.source)
                for event in events.order_by("-occurred_at", "-pk")[:RECENT_EVENTS]
            ),
        )
        return format_html(
            "<table><tr><th>occurred at</th><th>name</th><th>source</th></tr>{}</table>"
            '<a href="{}">All {} events</a>',
            rows,
            url,
            events.count(),
        )

    # segments/admin.py adds the contact's current segments (contacts never reads them).
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


class CustomFieldAdminForm(forms.ModelForm):
    """Definitions follow the API's rules (contacts.field_services)."""

    class Meta:
        model = CustomField
        fields = ["key", "label", "type", "choices", "source", "description"]

    def clean(self):
        cleaned = super().clean()
        choices = cleaned.get("choices") or []
        if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
            self.add_error("choices", "A list of strings.")
            return cleaned
        cleaned["choices"] = choices
        try:
            custom_field_definition_check(
                key=cleaned.get("key", self.instance.key),
                type=cleaned.get("type", self.instance.type),
                choices=choices,
                stored_choices=self.instance.choices or [],
            )
        except InvalidInput as exc:
            for path, messages in exc.errors.items():
                name = path.split("[", 1)[0]  # "choices[1]" is shown on the choices box
                for message in messages:
                    self.add_error(name if name in self.fields else None, message)
        return cleaned


@admin.register(CustomField)
class CustomFieldAdmin(admin.ModelAdmin):
    form = CustomFieldAdminForm
    list_display = ["key", "label", "type", "source"]
    list_filter = ["type", "source"]
    search_fields = ["key", "label"]

    def get_readonly_fields(self, request, obj=None):
        # Stored values and segment conditions depend on both, as in the API.
        return ["key", "type"] if obj is not None else []

    def save_model(self, request, obj, form, change):
        """Through contacts.field_services, as the API writes."""
        values = {name: form.cleaned_data[name] for name in form.fields}
        if change:
            custom_field_update(field=obj, data=values)
        else:
            obj.pk = custom_field_create(**values).pk
        obj.refresh_from_db()

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
