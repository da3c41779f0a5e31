"""Writes to flows: create, edit, activate (versioning), pause, archive, delete.

A flow's `definition` is its editable draft; edits are allowed in any status and reach new
enrollments only at the next activation, which freezes the definition into a new FlowVersion
when it differs from the live one. Enrollments in flight finish on the version they started
on (docs/flows.md). Every status change runs under a row lock on the flow, so two concurrent
activations make one version.
"""

import datetime as dt
from collections.abc import Iterator

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from automation.enrollment import enrollments_start_bulk
from automation.flow_definition import flow_definition_clean
from automation.models import (
    Enrollment,
    EnrollmentState,
    Flow,
    FlowStatus,
    FlowVersion,
    TriggerType,
)
from segflow.errors import InvalidInput
from segments.models import SegmentMembership

EDITABLE = ("name", "definition")
CREATE_STATUSES = (FlowStatus.DRAFT, FlowStatus.ACTIVE)
ARCHIVED_EXIT_REASON = "flow_archived"
ENROLL_BATCH_SIZE = 10_000


class FlowConflict(Exception):
    """The flow's state refuses the change (archived, has enrollments, ...): a 409."""


def flow_create(
    *,
    name: str,
    definition: object,
    status: str = FlowStatus.DRAFT,
    now: dt.datetime | None = None,
) -> Flow:
    """A new flow; with status "active" it is activated at once (future triggers only)."""
    now = now or timezone.now()
    if status not in CREATE_STATUSES:
        raise InvalidInput.single("status", 'A new flow is "draft" or "active".')
    definition = flow_definition_clean(definition)
    with transaction.atomic():
        flow = Flow.objects.create(name=name, definition=definition, created_at=now)
        if status == FlowStatus.ACTIVE:
            flow = flow_activate(flow=flow, now=now)
    return flow


def flow_update(*, flow: Flow, **changes) -> Flow:
    """Change the name and/or the definition (validated). A new definition is a draft until
    the next activation; enrollments keep running on their version meanwhile.

    Raises Flow.DoesNotExist when the flow was deleted meanwhile."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise TypeError(f"flow_update() got unexpected fields {sorted(unknown)}")
    if "definition" in changes:
        changes["definition"] = flow_definition_clean(changes["definition"])
    with transaction.atomic():
        flow = _locked(flow)
        for name, value in changes.items():
            setattr(flow, name, value)
        flow.save()
    return flow


def flow_activate(*, flow: Flow, enroll_current_members: bool = False, now: dt.datetime) -> Flow:
    """Make the flow's definition live: a new version when it differs from the live one
    (re-validated, since what it refers to may have gone), then status active. Re-activating
    a paused flow whose definition did not change resumes it on the same version.

    enroll_current_members (segment_entered triggers only) enrolls the segment's current
    members once per version, as if they had just entered.
    Raises FlowConflict for an archived flow, Flow.DoesNotExist when it was deleted."""
    with transaction.atomic():
        flow = _locked(flow)
        if flow.status == FlowStatus.ARCHIVED:
            raise FlowConflict("An archived flow cannot be activated again; create a new flow.")
        version = flow.live_version
        if version is None or version.definition != flow.definition:
            flow.definition = flow_definition_clean(flow.definition)
            version = _version_freeze(flow=flow, now=now)
            flow.live_version = version
        if enroll_current_members and version.trigger_type != TriggerType.SEGMENT_ENTERED:
            raise InvalidInput.single(
                "enroll_current_members",
                "Only a flow triggered by segment_entered can enroll its segment's members.",
            )
        flow.status = FlowStatus.ACTIVE
        flow.save()
        if enroll_current_members:
            _enroll_segment_members(version=version, now=now)
    return flow


def flow_pause(*, flow: Flow) -> Flow:
    """No new enrollments; enrollments in flight stay on their step and do not advance until
    the flow is activated again. Pausing a paused flow changes nothing."""
    with transaction.atomic():
        flow = _locked(flow)
        if flow.status == FlowStatus.PAUSED:
            return flow
        if flow.status != FlowStatus.ACTIVE:
            raise FlowConflict(f"Only an active flow can be paused; this one is {flow.status}.")
        flow.status = FlowStatus.PAUSED
        flow.save()
    return flow


def flow_archive(*, flow: Flow, now: dt.datetime) -> Flow:
    """For good: no new enrollments, and every active enrollment exits ("flow_archived")."""
    with transaction.atomic():
        flow = _locked(flow)
        if flow.status == FlowStatus.ARCHIVED:
            return flow
        flow.status = FlowStatus.ARCHIVED
        flow.save()
        Enrollment.objects.filter(flow=flow, state=EnrollmentState.ACTIVE).update(
            state=EnrollmentState.EXITED,
            exit_reason=ARCHIVED_EXIT_REASON,
            ended_at=now,
            next_run_at=None,
            sleeping=False,
            updated_at=now,
        )
    return flow


def flow_delete(*, flow: Flow) -> None:
    """Only a flow that never enrolled anyone: the others keep their history (archive them).
    Raises FlowConflict, or Flow.DoesNotExist when it was deleted meanwhile."""
    with transaction.atomic():
        flow = _locked(flow)
        enrolled = flow.enrollments.count()
        if enrolled:
            raise FlowConflict(
                f"This flow has {enrolled} enrollment(s): archive it instead of deleting it."
            )
        flow.delete()


def _locked(flow: Flow) -> Flow:
    """The flow's row, locked. Its live version is read by a later statement, after the lock
    is granted: a join in this one would show the version as it was before the wait."""
    return Flow.objects.select_for_update().get(pk=flow.pk)


def _version_freeze(*, flow: Flow, now: dt.datetime) -> FlowVersion:
    """The flow's (locked, cleaned) definition as its next version."""
    last = flow.versions.aggregate(last=Max("number"))["last"] or 0
    trigger = flow.definition["trigger"]
    return FlowVersion.objects.create(
        flow=flow,
        number=last + 1,
        definition=flow.definition,
        trigger_type=trigger["type"],
        trigger_segment_id=trigger.get("segment"),
        trigger_event=trigger.get("event"),
        created_at=now,
    )


def _enroll_segment_members(*, version: FlowVersion, now: dt.datetime) -> int:
    enrolled = 0
    for contact_ids in _current_members(version.trigger_segment_id):
        items = [(pk, f"activation:{version.pk}:{pk}", None) for pk in contact_ids]
        enrolled += enrollments_start_bulk(version=version, items=items, now=now)
    return enrolled


def _current_members(segment_id: int) -> Iterator[list[int]]:
    """The segment's current members by id, in batches."""
    members = SegmentMembership.objects.current().filter(segment_id=segment_id)
    after = 0
    while True:
        batch = list(
            members.filter(contact_id__gt=after)
            .order_by("contact_id")
            .values_list("contact_id", flat=True)[:ENROLL_BATCH_SIZE]
        )
        if not batch:
            return
        yield batch
        after = batch[-1]
