"""Reads of flows: lists with their version counts, a flow's versions, enrollments."""

from django.db.models import Count, QuerySet

from automation.models import Enrollment, Flow, FlowVersion


def flow_list(*, status: str | None = None) -> QuerySet[Flow]:
    flows = Flow.objects.select_related("live_version").annotate(version_count=Count("versions"))
    if status is not None:
        flows = flows.filter(status=status)
    return flows.order_by("id")


def flow_get(*, pk: int) -> Flow:
    """Raises Flow.DoesNotExist."""
    return flow_list().get(pk=pk)


def flow_versions(*, flow: Flow) -> QuerySet[FlowVersion]:
    """Newest first."""
    return FlowVersion.objects.filter(flow=flow).order_by("-number")


def enrollment_list(
    *, flow_id: int | None = None, contact_id: int | None = None, state: str | None = None
) -> QuerySet[Enrollment]:
    """Newest first."""
    enrollments = Enrollment.objects.select_related("version")
    if flow_id is not None:
        enrollments = enrollments.filter(flow_id=flow_id)
    if contact_id is not None:
        enrollments = enrollments.filter(contact_id=contact_id)
    if state is not None:
        enrollments = enrollments.filter(state=state)
    return enrollments.order_by("-enrolled_at", "-id")
