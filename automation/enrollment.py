"""Starting enrollments: the one way a contact enters a flow (a trigger event, a segment
transition, an activation with the segment's current members).

Invariants, all held by the database in the insert itself (so replays and concurrent
workers need no coordination):
- Only a flow that is active and whose live version is `version` enrolls; its row is read
  FOR SHARE, so a pause or archive that commits first is seen, one that waits sees the
  enrollments.
- A trigger enrolls at most once per flow: (flow, trigger_key) is unique and the insert is
  ON CONFLICT DO NOTHING, so a replayed trigger is a no-op.
- At most one active enrollment per flow and contact (partial unique index): a trigger
  while one is active is ignored, whatever the re-entry policy.
- Re-entry: "never" = no enrollment of this flow for the contact ever before; "always" =
  none active; {"after": D} = none active and none started within D before `now`.
- Holdout is decided per (flow, contact) by a stable hash: the same answer on every
  enrollment, on every machine.
- Contacts that no longer exist are skipped (their row is locked FOR KEY SHARE, so a
  concurrent deletion either comes first and they are skipped, or waits for this insert and
  cascades to it).
One call enrolls a contact at most once: its first item in `items` is the one considered.
"""

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.db.models import Q

from automation.flow_tree import flow_tree
from automation.models import Enrollment, EnrollmentState, Flow, FlowStatus, FlowVersion
from automation.steps.durations import duration_of
from contacts.models import Contact
from segflow.queue import wake_on_commit

RUN_DUE_TASK = "automation.tasks.run_due_enrollments"

# (contact_id, trigger_key, trigger_event_id)
Item = tuple[int, str, int | None]


@dataclass(frozen=True, slots=True)
class _Started:
    pk: int
    contact_id: int
    trigger_key: str
    trigger_event_id: int | None
    holdout: bool


def enrollment_start(
    *,
    version: FlowVersion,
    contact_id: int,
    trigger_key: str,
    trigger_event_id: int | None = None,
    now: dt.datetime,
) -> Enrollment | None:
    """Enroll one contact (inside the caller's transaction); None when not enrolled (flow not
    live on this version, re-entry policy, one active already, trigger seen, no contact)."""
    started = _start(version=version, items=[(contact_id, trigger_key, trigger_event_id)], now=now)
    if not started:
        return None
    row = started[0]
    step_id, state, ended_at = _initial_position(version, now)
    return Enrollment(
        pk=row.pk,
        flow_id=version.flow_id,
        version=version,
        contact_id=row.contact_id,
        state=state,
        step_id=step_id,
        next_run_at=now if step_id else None,
        step_started_at=now if step_id else None,
        sleeping=False,
        trigger_key=row.trigger_key,
        trigger_event_id=row.trigger_event_id,
        holdout=row.holdout,
        enrolled_at=now,
        ended_at=ended_at,
        updated_at=now,
    )


def enrollments_start_bulk(*, version: FlowVersion, items: Sequence[Item], now: dt.datetime) -> int:
    """Enroll many contacts in one statement (inside the caller's transaction); returns how
    many enrollments were created."""
    return len(_start(version=version, items=items, now=now))


def in_holdout(*, flow_id: int, contact_id: int, percent: int | float) -> bool:
    """Deterministic control-group membership: the same for a (flow, contact) pair forever."""
    if not percent or percent <= 0:
        return False
    digest = hashlib.blake2b(f"{flow_id}:{contact_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % 100 < percent


def first_step_id(version: FlowVersion) -> str | None:
    """The step a new enrollment starts at; None for a flow without steps."""
    return flow_tree(version).first_step_id()


def reentry_after(reentry: object) -> dt.timedelta | None:
    """The {"after": {...}} policy's delay; None for "never" / "always"."""
    if not isinstance(reentry, dict) or not isinstance(reentry.get("after"), dict):
        return None
    return duration_of(reentry["after"])


def _initial_position(version: FlowVersion, now: dt.datetime):
    """(step_id, state, ended_at) of a new enrollment: a flow without steps completes at once."""
    step_id = first_step_id(version)
    if step_id is None:
        return None, EnrollmentState.COMPLETED, now
    return step_id, EnrollmentState.ACTIVE, None


def _start(*, version: FlowVersion, items: Sequence[Item], now: dt.datetime) -> list[_Started]:
    first: dict[int, Item] = {}
    for item in items:
        first.setdefault(item[0], item)
    if not first:
        return []
    percent = version.definition.get("holdout_percent") or 0
    rows = [
        (
            contact_id,
            key,
            event_id,
            in_holdout(flow_id=version.flow_id, contact_id=contact_id, percent=percent),
        )
        for contact_id, key, event_id in first.values()
    ]
    insert = _insert_postgresql if connection.vendor == "postgresql" else _insert_portable
    started = insert(version=version, rows=rows, now=now)
    if started and first_step_id(version) is not None:
        wake_on_commit(RUN_DUE_TASK)
    return started


def _blocking_sql(reentry: object, now: dt.datetime) -> tuple[str, list]:
    """SQL predicate on an existing enrollment `e` that keeps the contact out (the same
    rules as _blocking_q)."""
    if reentry == "always":
        return "e.state = 'active'", []
    after = reentry_after(reentry)
    if after is not None:
        return "(e.state = 'active' OR e.enrolled_at > %s)", [now - after]
    return "TRUE", []  # "never" (and anything unknown: the safe side)


def _blocking_q(reentry: object, now: dt.datetime) -> Q:
    if reentry == "always":
        return Q(state=EnrollmentState.ACTIVE)
    after = reentry_after(reentry)
    if after is not None:
        return Q(state=EnrollmentState.ACTIVE) | Q(enrolled_at__gt=now - after)
    return Q()


_INSERT_SQL = """
WITH live AS (
    SELECT id FROM {flow} WHERE id = %s AND status = 'active' AND live_version_id = %s
    FOR SHARE
), item AS (
    SELECT t.contact_id, t.trigger_key, t.event_id, t.holdout
    FROM unnest(%s::bigint[], %s::text[], %s::bigint[], %s::boolean[])
        AS t(contact_id, trigger_key, event_id, holdout)
    WHERE EXISTS (SELECT 1 FROM live)
      AND NOT EXISTS (
        SELECT 1 FROM {enrollment} e
        WHERE e.flow_id = %s AND e.contact_id = t.contact_id AND {blocking}
      )
), eligible AS (
    SELECT item.* FROM item JOIN {contact} c ON c.id = item.contact_id
    ORDER BY item.contact_id
    FOR KEY SHARE OF c
)
INSERT INTO {enrollment} (
    flow_id, version_id, contact_id, state, step_id, next_run_at, step_started_at, sleeping,
    waiting_for_event, trigger_key, trigger_event_id, holdout, exit_reason, enrolled_at,
    ended_at, updated_at
)
SELECT %s, %s, contact_id, %s, %s, %s, %s, false, NULL, trigger_key, event_id, holdout, '',
    %s, %s, %s
FROM eligible
ON CONFLICT DO NOTHING
RETURNING id, contact_id, trigger_key, trigger_event_id, holdout
"""


def _insert_postgresql(*, version: FlowVersion, rows: list[tuple], now: dt.datetime):
    reentry = version.definition.get("reentry", "never")
    blocking, blocking_params = _blocking_sql(reentry, now)
    step_id, state, ended_at = _initial_position(version, now)
    due = now if step_id else None
    sql = _INSERT_SQL.format(
        flow=Flow._meta.db_table,
        enrollment=Enrollment._meta.db_table,
        contact=Contact._meta.db_table,
        blocking=blocking,
    )
    columns = list(zip(*rows, strict=True))
    params = [
        version.flow_id,
        version.pk,
        *[list(column) for column in columns],
        version.flow_id,
        *blocking_params,
        version.flow_id,
        version.pk,
        state,
        step_id,
        due,
        due,
        now,
        ended_at,
        now,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [_Started(*row) for row in cursor.fetchall()]


def _insert_portable(*, version: FlowVersion, rows: list[tuple], now: dt.datetime):
    """SQLite (the embedded default): the same rules read first, then inserted row by row
    (SQLite has one writer at a time, so nothing changes in between within the transaction;
    the unique constraints still refuse what slipped through)."""
    live = Flow.objects.filter(
        pk=version.flow_id, status=FlowStatus.ACTIVE, live_version_id=version.pk
    )
    if not live.exists():
        return []
    reentry = version.definition.get("reentry", "never")
    contact_ids = [row[0] for row in rows]
    existing_contacts = set(Contact.objects.filter(pk__in=contact_ids).values_list("pk", flat=True))
    blocked = set(
        Enrollment.objects.filter(flow_id=version.flow_id, contact_id__in=contact_ids)
        .filter(_blocking_q(reentry, now))
        .values_list("contact_id", flat=True)
    )
    step_id, state, ended_at = _initial_position(version, now)
    started = []
    for contact_id, key, event_id, holdout in rows:
        if contact_id not in existing_contacts or contact_id in blocked:
            continue
        try:
            with transaction.atomic():
                enrollment = Enrollment.objects.create(
                    flow_id=version.flow_id,
                    version_id=version.pk,
                    contact_id=contact_id,
                    state=state,
                    step_id=step_id,
                    next_run_at=now if step_id else None,
                    step_started_at=now if step_id else None,
                    trigger_key=key,
                    trigger_event_id=event_id,
                    holdout=holdout,
                    enrolled_at=now,
                    ended_at=ended_at,
                )
        except IntegrityError:
            continue  # trigger seen already, or one active
        started.append(_Started(enrollment.pk, contact_id, key, event_id, holdout))
    return started
