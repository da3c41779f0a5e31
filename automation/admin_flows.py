"""Admin pages for flows, versions, enrollments and step runs."""

from django.contrib import admin

from automation.models import Enrollment, Flow, FlowVersion, PendingFlowEvent, StepRun


@admin.register(Flow)
class FlowAdmin(admin.ModelAdmin):
    list_display = ["name", "status", "live_version", "updated_at"]
    list_filter = ["status"]
    search_fields = ["name"]


@admin.register(FlowVersion)
class FlowVersionAdmin(admin.ModelAdmin):
    list_display = ["flow", "number", "trigger_type", "created_at"]
    list_select_related = ["flow"]


@admin.register(Enrollment)
class EnrollmentAdmin(admin.ModelAdmin):
    list_display = ["contact", "flow", "state", "step_id", "next_run_at", "exit_reason"]
    list_filter = ["state"]
    raw_id_fields = ["contact", "flow", "version", "trigger_event"]


@admin.register(StepRun)
class StepRunAdmin(admin.ModelAdmin):
    list_display = ["enrollment", "step_id", "attempt", "status", "outcome", "started_at"]
    list_filter = ["status"]
    raw_id_fields = ["enrollment"]


@admin.register(PendingFlowEvent)
class PendingFlowEventAdmin(admin.ModelAdmin):
    list_display = ["name", "event_id", "contact_id", "created_at"]
