"""Admin pages for flows, versions, enrollments, step runs and the flow events outbox.

Flows are edited through automation.flow_services: the definition is checked by
flow_definition_clean (each error shown with its JSON path) and status changes are the
activate / pause / archive actions. Versions, enrollments and step runs are written by the
engine only: browsable, never edited by hand.
"""

from django import forms
from django.contrib import admin, messages
from django.utils import timezone

from automation.flow_definition import flow_definition_clean
from automation.flow_services import (
    FlowConflict,
    flow_activate,
    flow_archive,
    flow_create,
    flow_delete,
    flow_pause,
    flow_update,
)
from automation.models import Enrollment, Flow, FlowVersion, PendingFlowEvent, StepRun
from segflow.errors import InvalidInput


def _problems(error: InvalidInput) -> list[str]:
    return [
        f"{path}: {message}" if path else message
        for path, ms in error.errors.items()
        for message in ms
    ]


class FlowAdminForm(forms.ModelForm):
    class Meta:
        model = Flow
        fields = ["name", "definition"]
        help_texts = {
            "definition": "Flow JSON: trigger, reentry, exit_when, goal, holdout_percent and "
            "steps (docs/flows.md). Edits reach new enrollments at the next activation."
        }

    def clean_definition(self):
        try:
            return flow_definition_clean(self.cleaned_data["definition"])
        except InvalidInput as invalid:
            raise forms.ValidationError(_problems(invalid)) from None


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def _each(modeladmin, request, queryset, change, done: str) -> None:
    """Apply `change` to each flow, reporting refusals by flow."""
    changed = 0
    for flow in queryset:
        try:
            change(flow)
        except FlowConflict as conflict:
            modeladmin.message_user(request, f"{flow}: {conflict}", messages.ERROR)
        except InvalidInput as invalid:
            problems = "; ".join(_problems(invalid))
            modeladmin.message_user(request, f"{flow}: {problems}", messages.ERROR)
        except Flow.DoesNotExist:
            continue
        else:
            changed += 1
    if changed:
        modeladmin.message_user(request, f"{changed} flow(s) {done}.", messages.SUCCESS)


@admin.action(description="Activate selected flows (future triggers only)")
def activate(modeladmin, request, queryset):
    now = timezone.now()
    _each(modeladmin, request, queryset, lambda f: flow_activate(flow=f, now=now), "activated")


@admin.action(description="Pause selected flows")
def pause(modeladmin, request, queryset):
    _each(modeladmin, request, queryset, lambda f: flow_pause(flow=f), "paused")


@admin.action(description="Archive selected flows (their active enrollments exit)")
def archive(modeladmin, request, queryset):
    now = timezone.now()
    _each(modeladmin, request, queryset, lambda f: flow_archive(flow=f, now=now), "archived")


@admin.register(Flow)
class FlowAdmin(admin.ModelAdmin):
    form = FlowAdminForm
    list_display = ["name", "status", "live_version", "updated_at"]
    list_filter = ["status"]
    search_fields = ["name"]
    readonly_fields = ["status", "live_version", "created_at", "updated_at"]
    fields = ["name", "definition", *readonly_fields]
    actions = [activate, pause, archive]

    def save_model(self, request, obj, form, change):
        """Through the services (the form has cleaned the definition already)."""
        values = {key: form.cleaned_data[key] for key in ("name", "definition")}
        if change:
            flow_update(flow=obj, **values)
        else:
            obj.pk = flow_create(**values).pk

    def has_delete_permission(self, request, obj=None):
        """Not once it enrolled anyone (flow_delete would refuse): archive it instead."""
        if obj is not None and obj.enrollments.exists():
            return False
        return super().has_delete_permission(request, obj)

    def delete_model(self, request, obj):
        try:
            flow_delete(flow=obj)
        except FlowConflict as conflict:  # enrolled meanwhile
            self.message_user(request, str(conflict), messages.ERROR)
        except Flow.DoesNotExist:
            pass

    def delete_queryset(self, request, queryset):
        for flow in queryset:
            self.delete_model(request, flow)


@admin.register(FlowVersion)
class FlowVersionAdmin(ReadOnlyAdmin):
    list_display = ["flow", "number", "trigger_type", "created_at"]
    list_filter = ["trigger_type"]
    list_select_related = ["flow"]
    search_fields = ["flow__name"]


class StepRunInline(admin.TabularInline):
    model = StepRun
    fields = ["step_id", "attempt", "status", "outcome", "detail", "started_at", "finished_at"]
    readonly_fields = fields
    ordering = ["started_at", "id"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Enrollment)
class EnrollmentAdmin(ReadOnlyAdmin):
    list_display = ["contact", "flow", "state", "step_id", "next_run_at", "exit_reason"]
    list_filter = ["state", "holdout"]
    list_select_related = ["contact", "flow"]
    search_fields = ["contact__email", "flow__name"]
    raw_id_fields = ["contact", "flow", "version", "trigger_event"]
    inlines = [StepRunInline]


@admin.register(StepRun)
class StepRunAdmin(ReadOnlyAdmin):
    list_display = ["enrollment", "step_id", "attempt", "status", "outcome", "started_at"]
    list_filter = ["status"]
    search_fields = ["enrollment__contact__email", "step_id"]
    raw_id_fields = ["enrollment"]


@admin.register(PendingFlowEvent)
class PendingFlowEventAdmin(ReadOnlyAdmin):
    list_display = ["name", "event_id", "contact_id", "created_at"]
    search_fields = ["name"]
