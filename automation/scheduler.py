"""The durable scheduler: due enrollments are rows (`next_run_at`), claimed in batches.

A tick claims up to BATCH due enrollments of active flows with FOR UPDATE SKIP LOCKED in
their order of due time, runs their steps in that transaction (automation.engine), commits,
performs the batch's sends and webhook calls, and claims the next batch, until nothing is
due or TIME_BUDGET has passed (then it wakes itself again and returns, so one tick never
holds a worker for long). Any number of ticks may run at once (beat every 5 s, on-commit
wake-ups, several workers): SKIP LOCKED gives each a disjoint batch, and an enrollment leaves
the due set in the transaction that advances it.

Waits are never Celery countdowns: a sleeping enrollment is a row due at a time, a send or a
webhook call under way is a row leased until a time (docs/flow-engine.md).
"""

import datetime as dt
import logging
import time

from django.db import transaction
from django.db.models import Exists, OuterRef

from automation import engine
from automation.models import Enrollment, EnrollmentState, StepRun, StepRunStatus
from segflow.queue import task_publish

logger = logging.getLogger(__name__)

RUN_DUE_TASK = "automation.tasks.run_due_enrollments"
BATCH = 500
TIME_BUDGET = 20.0  # seconds


def scheduler_tick(*, now: dt.datetime) -> int:
    """Advance the enrollments due at `now`; returns how many advanced."""
    deadline = time.monotonic() + TIME_BUDGET
    advanced = 0
    while True:
        claimed = _batch_advance(now)
        advanced += claimed
        if claimed < BATCH:
            return advanced
        if time.monotonic() >= deadline:
            task_publish(RUN_DUE_TASK, wake=True)  # more is due: another tick goes on
            return advanced


def _batch_advance(now: dt.datetime) -> int:
    claimed_ids: list[int] = []
    try:
        with transaction.atomic():
            claimed = list(engine.due_enrollments(now=now)[:BATCH])
            claimed_ids = [enrollment.pk for enrollment in claimed]
            effects = engine.steps_run(enrollments=claimed, now=now)
    except Exception:
        if not claimed_ids:
            raise
        logger.exception(
            "A batch of %d enrollments failed; advancing them one by one", len(claimed_ids)
        )
        engine.enrollments_advance_each(enrollment_ids=claimed_ids, now=now)
        return len(claimed_ids)
    try:
        engine.effects_complete(effects=effects, now=now)
    except Exception:  # their leases expire and the engine settles them (never re-sends)
        logger.exception("Recording the side effects of a batch failed")
    return len(claimed_ids)


def steps_reset_stuck(*, now: dt.datetime) -> int:
    """Leases whose worker died: an expired lease is due, so the next tick settles it (the
    engine marks the message unknown, or retries the webhook). This beat job only wakes the
    scheduler when some exist, and returns how many there are."""
    lost = StepRun.objects.filter(
        enrollment=OuterRef("pk"), step_id=OuterRef("step_id"), status=StepRunStatus.STARTED
    )
    stuck = Enrollment.objects.filter(
        Exists(lost), state=EnrollmentState.ACTIVE, sleeping=False, next_run_at__lte=now
    ).count()
    if stuck:
        logger.warning("%d enrollments hold an expired lease; settling them", stuck)
        task_publish(RUN_DUE_TASK, wake=True)
    return stuck
