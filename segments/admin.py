from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

from contacts.admin import ContactAdmin
from segflow.errors import InvalidInput
from segments import operators as ops
from segments.graph_lock import segment_graph_lock
from segments.models import (
    PendingContactChange,
    Segment,
    SegmentDailyStats,
    SegmentMembership,
    SegmentTransition,
    TransitionConsumer,
)
from segments.services import EDITABLE, segment_create, segment_delete, segment_update
from segments.validation import validate_conditions


def _conditions_help() -> str:
    """The condition language in brief, next to the JSON box; operators come from
    segments.operators, so the summary cannot drift from what validation accepts."""
    field_ops = [(kind, ", ".join(sorted(names))) for kind, names in ops.OPS_BY_TYPE.items()]
    other_ops = [
        ("event", f"{', '.join(sorted(ops.EVENT_OPS))}; optional count, within, where"),
        ("email", ", ".join(sorted(ops.EMAIL_OPS))),
        ("segment", ", ".join(sorted(ops.SEGMENT_OPS))),
        ("tag", ", ".join(sorted(ops.TAG_OPS))),
        ("subscription", ", ".join(sorted(ops.SUBSCRIPTION_OPS))),
    ]
    rows = format_html_join("", "<li><code>{}</code>: {}</li>", field_ops)
    others = format_html_join("", "<li><code>{}</code>: {}</li>", other_ops)
    return format_html(
        'A JSON tree of groups <code>{{"all": [...]}}</code>, <code>{{"any": [...]}}</code>, '
        '<code>{{"not": {{...}}}}</code> around conditions, e.g. '
        '<code>{{"type": "field", "field": "plan", "op": "eq", "value": "pro"}}</code>. '
        "Field operators by type:<ul>{}</ul>Other conditions (<code>type</code>: operators):"
        "<ul>{}</ul>Every operator and its exact meaning: docs/segments.md.",
        rows,
        others,
    )


class SegmentAdminForm(forms.ModelForm):
    class Meta:
        model = Segment
        fields = list(EDITABLE)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["conditions"].help_text = _conditions_help()

    def clean_conditions(self):
        tree = self.cleaned_data["conditions"]
        # The admin validates and saves in one transaction: under the graph lock, what is
        # valid here is still valid when segment_create / segment_update save it.
        segment_graph_lock()
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
    list_display = [
        "name",
        "size",
        "is_time_relative",
        "last_evaluated_at",
        "next_evaluation_at",
        "failed_at",
    ]
    list_filter = [("failed_at", admin.EmptyFieldListFilter)]
    search_fields = ["name"]
    readonly_fields = [
        "size",
        "is_time_relative",
        "dependency_keys",
        "last_evaluated_at",
        "failed_at",
        "failure_reason",
    ]
    fields = [*EDITABLE, *readonly_fields]

    def save_model(self, request, obj, form, change):
        """Through the services: dependencies are derived and an evaluation is queued."""
        values = {name: form.cleaned_data[name] for name in EDITABLE if name in form.cleaned_data}
        if change:
            segment_update(segment=Segment.objects.get(pk=obj.pk), **values)
        else:
            obj.pk = segment_create(**values).pk

    def save_related(self, request, form, formsets, change):
        """depends_on is derived from the conditions by the services."""

    def has_delete_permission(self, request, obj=None):
        """Not while other segments read it (segment_delete would refuse)."""
        if obj is not None and obj.dependents.exists():
            return False
        return super().has_delete_permission(request, obj)

    def delete_model(self, request, obj):
        """Through the service: it locks the segment and checks its readers."""
        try:
            segment_delete(segment=obj)
        except InvalidInput as refused:  # a reader was saved meanwhile
            messages.error(request, " ".join(m for ms in refused.errors.values() for m in ms))
        except Segment.DoesNotExist:
            pass  # deleted meanwhile

    def delete_queryset(self, request, queryset):
        for segment in queryset:
            self.delete_model(request, segment)


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
