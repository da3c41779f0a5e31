from django import forms
from django.contrib import admin

from contacts.admin import ContactAdmin
from segments.models import (
    PendingContactChange,
    Segment,
    SegmentDailyStats,
    SegmentMembership,
    SegmentTransition,
    TransitionConsumer,
)
from segments.services import EDITABLE, segment_create, segment_update
from segments.validation import validate_conditions


class SegmentAdminForm(forms.ModelForm):
    class Meta:
        model = Segment
        fields = list(EDITABLE)

    def clean_conditions(self):
        tree = self.cleaned_data["conditions"]
        errors = validate_conditions(tree, segment_id=self.instance.pk)
        if errors:
            raise forms.ValidationError([f"{e.path}: {e.message}" for e in errors])
        return tree


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written by evaluations only: browsable, never edited by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    form = SegmentAdminForm
    list_display = ["name", "size", "is_time_relative", "last_evaluated_at", "next_evaluation_at"]
    search_fields = ["name"]
    fields = [*EDITABLE, "size", "is_time_relative", "dependency_keys", "last_evaluated_at"]
    readonly_fields = ["size", "is_time_relative", "dependency_keys", "last_evaluated_at"]

    def save_model(self, request, obj, form, change):
        """Through the services: dependencies are derived and an evaluation is queued."""
        values = {name: form.cleaned_data[name] for name in EDITABLE if name in form.cleaned_data}
        if change:
            segment_update(segment=Segment.objects.get(pk=obj.pk), **values)
        else:
            obj.pk = segment_create(**values).pk

    def save_related(self, request, form, formsets, change):
        """depends_on is derived from the conditions by the services."""


@admin.register(SegmentMembership)
class SegmentMembershipAdmin(ReadOnlyAdmin):
    list_display = ["segment", "contact", "entered_at", "left_at"]
    list_filter = ["segment"]
    raw_id_fields = ["contact"]


class CurrentSegmentsInline(admin.TabularInline):
    """A contact's current segments on its admin page: segments extends the contact admin, so
    contacts never reads segments' tables."""

    model = SegmentMembership
    fk_name = "contact"
    fields = ["segment", "entered_at"]
    readonly_fields = fields
    ordering = ["segment__name"]
    extra = 0
    can_delete = False
    verbose_name_plural = "current segments"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).current().select_related("segment")


ContactAdmin.inlines = [*ContactAdmin.inlines, CurrentSegmentsInline]


@admin.register(SegmentTransition)
class SegmentTransitionAdmin(ReadOnlyAdmin):
    list_display = ["segment", "contact", "kind", "occurred_at", "xact_id"]
    list_filter = ["kind", "segment"]
    raw_id_fields = ["contact"]


@admin.register(TransitionConsumer)
class TransitionConsumerAdmin(ReadOnlyAdmin):
    list_display = ["name", "last_transition_id", "last_xact_id", "updated_at"]


@admin.register(SegmentDailyStats)
class SegmentDailyStatsAdmin(ReadOnlyAdmin):
    list_display = ["segment", "day", "size", "entered", "left"]
    list_filter = ["segment"]


@admin.register(PendingContactChange)
class PendingContactChangeAdmin(ReadOnlyAdmin):
    list_display = ["id", "contact_count", "changes", "created_at"]
