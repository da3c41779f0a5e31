"""send_email and webhook: steps with a side effect outside the database.

Shape (docs/flow-engine.md): inside the claim transaction the step writes StepRun(started)
and (send_email) the Message via automation.sending.message_prepare, and leases the
enrollment (due again after FLOW_STEP_LEASE_SECONDS, not sleeping); after the commit the
batch's messages are delivered and its webhooks called, outside any transaction; a new
transaction then records each outcome and moves the enrollment on (`effect_record`).

A lease that expires means the worker died in between (`leases_settle`): the message is
marked "unknown" if it is still "sending" (it may have reached the provider: never re-sent),
delivered now if it is still "queued" (it never reached the backend), and its email.sent
event recorded if it was sent (the event may have died with the worker); a webhook attempt
is recorded as failed ("worker lost") and retried as a new attempt.
"""

import datetime as dt
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Max

from automation import rendering, send_rules, sending, webhooks
from automation.cursor import Cursor, Run
from automation.models import Message, MessageStatus, StepRun, StepRunStatus
from contacts.models import Event

RETRY_BASE_SECONDS = 30
RETRY_MAX_SECONDS = 3600
WEBHOOK_THREADS = 8
WORKER_LOST = "worker lost"


@dataclass(eq=False)
class Effect:
    enrollment_id: int
    step: dict
    step_run: StepRun
    message: Message | None = None
    url: str = ""
    body: str = ""
    result: webhooks.WebhookResult | None = None


def run_send_email(cursors: Sequence[Cursor], step: dict, run: Run) -> None:
    """A holdout enrollment walks this step too: its message is recorded skipped. The
    sending policy (automation.send_rules) first holds back the sends outside the send
    window or over the frequency cap: those sleep with a delay reason and run the step again
    later (no step run, no message yet), or, when the flow's "frequency_cap" is "skip", get
    a skipped message. The group's messages are prepared together (a fixed number of
    queries)."""
    definition = run.versions[cursors[0].enrollment.version_id].definition
    decisions = send_rules.send_decisions(
        enrollments=[cursor.enrollment for cursor in cursors],
        step=step,
        now=run.now,
        policy=run.sending_policy(),
        on_cap=definition.get("frequency_cap") or send_rules.DELAY,
    )
    going = []
    for cursor in cursors:
        decision = decisions[cursor.enrollment.pk]
        if decision.action == send_rules.DELAY:
            cursor.delay(decision.until, decision.reason)
        else:
            going.append(cursor)
    if not going:
        return
    cursors = going
    step_runs = [cursor.record(status=StepRunStatus.STARTED) for cursor in cursors]
    messages = sending.messages_prepare(
        items=[(cursor.enrollment, step) for cursor in cursors],
        now=run.now,
        skip_reasons=send_rules.skip_reasons(decisions),
    )
    for cursor, step_run, message in zip(cursors, step_runs, messages, strict=True):
        if message.status == MessageStatus.QUEUED:
            cursor.hold(run.now + dt.timedelta(seconds=settings.FLOW_STEP_LEASE_SECONDS))
            run.effects.append(Effect(cursor.enrollment.pk, step, step_run, message=message))
        else:  # skipped or failed already: nothing to deliver
            _finish(step_run, StepRunStatus.DONE, message.status, {"message_id": message.pk}, run)
            cursor.advance(record=False)


def run_webhook(cursors: Sequence[Cursor], step: dict, run: Run) -> None:
    """Holdout enrollments call webhooks too: only messages are withheld from them."""
    attempts = _attempts_made(cursors, step["id"])
    contacts = run.contacts(cursor.contact_id for cursor in cursors)
    for cursor in cursors:
        attempt = attempts.get(cursor.enrollment.pk, 0) + 1
        if attempt > settings.FLOW_WEBHOOK_MAX_ATTEMPTS:  # the lost attempt was the last
            cursor.advance(record=False)
            continue
        step_run = cursor.record(status=StepRunStatus.STARTED, attempt=attempt)
        try:
            body = webhooks.webhook_body_render(
                step=step, context=_context(cursor, contacts[cursor.contact_id])
            )
        except Exception as error:  # a template error fails this step, not the journey
            _finish(step_run, StepRunStatus.FAILED, "failed", {"error": str(error)}, run)
            cursor.advance(record=False)
            continue
        cursor.hold(run.now + dt.timedelta(seconds=settings.FLOW_STEP_LEASE_SECONDS))
        run.effects.append(Effect(cursor.enrollment.pk, step, step_run, url=step["url"], body=body))


def effects_perform(*, effects: Sequence[Effect], now: dt.datetime) -> None:
    """Deliver the messages and call the webhooks of a batch (outside any transaction)."""
    messages = [effect.message for effect in effects if effect.message is not None]
    if messages:
        sending.messages_deliver(messages=messages, now=now)
    calls = [effect for effect in effects if effect.message is None]
    if not calls:
        return
    timeout = settings.FLOW_WEBHOOK_TIMEOUT_SECONDS
    with ThreadPoolExecutor(max_workers=min(WEBHOOK_THREADS, len(calls))) as pool:
        results = pool.map(
            lambda call: webhooks.webhook_call(url=call.url, body=call.body, timeout=timeout),
            calls,
        )
        for call, result in zip(calls, results, strict=True):
            call.result = result


def effect_record(effect: Effect, cursor: Cursor | None, step_run: StepRun, run: Run) -> None:
    """Record a performed effect on its (locked, still started) StepRun and move the cursor
    on: a retryable webhook failure waits for its next attempt, any other outcome goes on.
    Without a cursor (the enrollment ended meanwhile) only the outcome is recorded."""
    if effect.message is not None:
        status = Message.objects.filter(pk=effect.message.pk).values_list("status", flat=True)
        outcome = status.first() or MessageStatus.UNKNOWN
        _finish(step_run, StepRunStatus.DONE, outcome, {"message_id": effect.message.pk}, run)
        if cursor is not None:
            cursor.advance(record=False)
        return
    result = effect.result
    detail = {"status_code": result.status_code, "excerpt": result.excerpt, "error": result.error}
    if result.ok:
        _finish(step_run, StepRunStatus.DONE, "ok", detail, run)
    elif (
        cursor is not None
        and result.retryable
        and step_run.attempt < settings.FLOW_WEBHOOK_MAX_ATTEMPTS
    ):
        _finish(step_run, StepRunStatus.FAILED, "retry", detail, run)
        cursor.hold(run.now + retry_delay(step_run.attempt))
        return
    else:
        _finish(step_run, StepRunStatus.FAILED, "failed", detail, run)
    if cursor is not None:
        cursor.advance(record=False)


def retry_delay(attempt: int) -> dt.timedelta:
    """After attempt n failed: 30 s * 2^(n-1), at most an hour."""
    return dt.timedelta(seconds=min(RETRY_BASE_SECONDS * 2 ** (attempt - 1), RETRY_MAX_SECONDS))


def leases_settle(cursors: Sequence[Cursor], run: Run) -> None:
    """Claimed enrollments whose step is still "started" were leased by a worker that died
    (their lease expired): a send is settled without sending again, a webhook attempt is
    recorded as lost and the step runs again (a new attempt)."""
    leased = {c.enrollment.pk: c for c in cursors if not c.enrollment.sleeping and c.step_id}
    if not leased:
        return
    lost = StepRun.objects.filter(enrollment_id__in=leased, status=StepRunStatus.STARTED)
    for step_run in lost.select_for_update():
        cursor = leased[step_run.enrollment_id]
        if step_run.step_id != cursor.step_id:  # cannot happen; never leave it started
            _finish(step_run, StepRunStatus.FAILED, "failed", {"error": WORKER_LOST}, run)
        elif cursor.tree.step(step_run.step_id)["type"] == "send_email":
            _send_settle(step_run, cursor, run)
        else:
            last = step_run.attempt >= settings.FLOW_WEBHOOK_MAX_ATTEMPTS
            outcome = "failed" if last else "retry"
            _finish(step_run, StepRunStatus.FAILED, outcome, {"error": WORKER_LOST}, run)
    StepRun.objects.bulk_update(run.finished_runs, ["status", "outcome", "detail", "finished_at"])
    run.finished_runs.clear()


def _send_settle(step_run: StepRun, cursor: Cursor, run: Run) -> None:
    key = sending.enrollment_message_key(enrollment_id=cursor.enrollment.pk, step_id=cursor.step_id)
    message = Message.objects.filter(idempotency_key=key).first()
    if message is None:  # died before the row was written: nothing went out
        outcome, detail = MessageStatus.UNKNOWN, {"error": WORKER_LOST}
    elif message.status == MessageStatus.QUEUED:  # never reached the backend: deliver it now
        cursor.hold(run.now + dt.timedelta(seconds=settings.FLOW_STEP_LEASE_SECONDS))
        step = cursor.tree.step(step_run.step_id)
        run.effects.append(Effect(cursor.enrollment.pk, step, step_run, message=message))
        return
    else:
        if message.status == MessageStatus.SENDING:
            sending.message_mark_unknown(message=message)
        elif message.status == MessageStatus.SENT:
            sending.messages_sent_events_record([message], now=run.now)
        outcome, detail = message.status, {"message_id": message.pk, "settled": WORKER_LOST}
    _finish(step_run, StepRunStatus.DONE, outcome, detail, run)
    cursor.advance(record=False)


def _finish(step_run: StepRun, status: str, outcome: str, detail: dict, run: Run) -> None:
    step_run.status, step_run.outcome, step_run.detail = status, outcome, detail
    step_run.finished_at = run.now
    if step_run.pk is not None:  # an existing row: updated in bulk by the engine
        run.finished_runs.append(step_run)


def _attempts_made(cursors: Sequence[Cursor], step_id: str) -> dict[int, int]:
    """Attempts already recorded, for enrollments that were at this step before this run."""
    earlier = [cursor.enrollment.pk for cursor in cursors if not cursor.fresh]
    if not earlier:
        return {}
    rows = (
        StepRun.objects.filter(enrollment_id__in=earlier, step_id=step_id)
        .values("enrollment_id")
        .annotate(last=Max("attempt"))
        .values_list("enrollment_id", "last")
    )
    return dict(rows)


def _context(cursor: Cursor, contact) -> dict:
    enrollment = cursor.enrollment
    event = None
    if enrollment.trigger_event_id is not None:
        event = Event.objects.filter(pk=enrollment.trigger_event_id).first()
    return rendering.render_context(
        contact=contact, event=event, flow=enrollment.flow, contact_id=contact.pk, message_id=None
    )
