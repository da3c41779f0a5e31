"""The engine's writes of a batch: its new StepRuns in one INSERT and its enrollments in as
few UPDATEs as their distinct states allow (usually one: a batch at one wait moves to the
same next step with the same due time). Django's bulk_create / bulk_update do the same on
SQLite (the embedded default); on PostgreSQL these statements avoid building a model
instance and a CASE branch per row, which dominated a batch's time (docs/flow-engine.md)."""

import json
from collections import defaultdict
from collections.abc import Sequence

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.utils import timezone

from automation.models import Enrollment, StepRun

_ENROLLMENT = Enrollment._meta.db_table
_STEP_RUN = StepRun._meta.db_table
# The fields the engine changes, with their PostgreSQL types.
ENROLLMENT_FIELDS = {
    "step_id": "text",
    "state": "text",
    "next_run_at": "timestamptz",
    "step_started_at": "timestamptz",
    "sleeping": "boolean",
    "waiting_for_event": "text",
    "exit_reason": "text",
    "ended_at": "timestamptz",
    "delay_reason": "text",  # a send held back by the sending policy (automation.send_rules)
}
_STEP_RUN_FIELDS = {
    "enrollment_id": "bigint",
    "step_id": "text",
    "attempt": "smallint",
    "status": "text",
    "outcome": "text",
    "detail": "jsonb",
    "started_at": "timestamptz",
    "finished_at": "timestamptz",
}
# More distinct states than this in one batch: one UPDATE from arrays instead.
_GROUPED_UPDATES_MAX = 8


def step_runs_insert(step_runs: Sequence[StepRun]) -> None:
    """Insert new StepRuns (their ids are not read back: the engine finds a started one by
    its unique key). A duplicate key raises: the same step must never run twice."""
    if not step_runs:
        return
    if connection.vendor != "postgresql":
        StepRun.objects.bulk_create(step_runs)
        return
    arrays = [
        [_json(r.detail) if f == "detail" else getattr(r, f) for r in step_runs]
        for f in _STEP_RUN_FIELDS
    ]
    columns = ", ".join(_STEP_RUN_FIELDS)
    unnest = ", ".join(f"%s::{kind}[]" for kind in _STEP_RUN_FIELDS.values())
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {_STEP_RUN} ({columns}) SELECT * FROM unnest({unnest})", arrays
        )


def enrollments_save(enrollments: Sequence[Enrollment]) -> None:
    """Write the engine's fields of these enrollments."""
    if not enrollments:
        return
    if connection.vendor != "postgresql":
        Enrollment.objects.bulk_update(enrollments, [*ENROLLMENT_FIELDS, "updated_at"])
        return
    groups: dict[tuple, list[int]] = defaultdict(list)
    for enrollment in enrollments:
        groups[tuple(getattr(enrollment, f) for f in ENROLLMENT_FIELDS)].append(enrollment.pk)
    updated_at = timezone.now()
    with connection.cursor() as cursor:
        if len(groups) <= _GROUPED_UPDATES_MAX:
            assignments = ", ".join(f"{field} = %s" for field in ENROLLMENT_FIELDS)
            sql = f"UPDATE {_ENROLLMENT} SET {assignments}, updated_at = %s WHERE id = ANY(%s)"
            for values, ids in groups.items():
                cursor.execute(sql, [*values, updated_at, ids])
            return
        columns = {"id": "bigint", **ENROLLMENT_FIELDS}
        arrays = [[getattr(e, "pk" if c == "id" else c) for e in enrollments] for c in columns]
        sql = (
            f"UPDATE {_ENROLLMENT} AS e SET "
            + ", ".join(f"{column} = v.{column}" for column in ENROLLMENT_FIELDS)
            + ", updated_at = %s FROM unnest("
            + ", ".join(f"%s::{kind}[]" for kind in columns.values())
            + f") AS v({', '.join(columns)}) WHERE e.id = v.id"
        )
        cursor.execute(sql, [updated_at, *arrays])


def _json(value: dict) -> str:
    return json.dumps(value, cls=DjangoJSONEncoder)
