"""wait, wait_until and wait_for_event: each parks the enrollment (sleeping, so it can be
woken early) until its moment, and continues at once when the moment has come. An early
wake-up just runs the step again: the moment is recomputed and the enrollment sleeps again
if it is not due."""

import datetime as dt
import zoneinfo
from collections.abc import Sequence

from django.conf import settings
from django.db.models import Max

from automation.cursor import Cursor, Run
from automation.models import EnrollmentState
from automation.steps.durations import duration_of, offset_parts
from contacts.field_types import parse_iso_datetime
from contacts.models import Contact, CustomField, Event

FIELD_MISSING = "wait_until_field_missing"
MOMENT_PASSED = "wait_until_passed"
_BUILTIN_DATETIMES = ("last_activity_at", "created_at")


def run_wait(cursors: Sequence[Cursor], step: dict, run: Run) -> None:
    duration = duration_of(step["duration"])
    for cursor in cursors:
        due = cursor.step_started_at + duration
        if due <= run.now:
            cursor.advance()
        else:
            cursor.sleep(due)


def run_wait_until(cursors: Sequence[Cursor], step: dict, run: Run) -> None:
    """Due at the field's moment plus the offset, in the contact's time zone. A moment past by
    more than FLOW_WAIT_UNTIL_GRACE_SECONDS is not fired: the enrollment exits (a late
    joiner gets no stale reminder)."""
    contacts = run.contacts(cursor.contact_id for cursor in cursors)
    kind = _field_kind(step["field"])
    grace = dt.timedelta(seconds=settings.FLOW_WAIT_UNTIL_GRACE_SECONDS)
    for cursor in cursors:
        contact = contacts.get(cursor.contact_id)
        moment = None if contact is None else wait_until_moment(contact, step, kind)
        if moment is None:
            cursor.record(outcome=FIELD_MISSING)
            cursor.end(EnrollmentState.EXITED, FIELD_MISSING)
        elif moment > run.now:
            cursor.sleep(moment)
        elif run.now - moment <= grace:
            cursor.advance(detail={"due_at": moment.isoformat()})
        else:
            cursor.record(outcome=MOMENT_PASSED, detail={"due_at": moment.isoformat()})
            cursor.end(EnrollmentState.EXITED, MOMENT_PASSED)


def wait_until_moment(contact: Contact, step: dict, kind: str | None) -> dt.datetime | None:
    """The moment a wait_until step is due for this contact, None when the field is not set.

    A date-only value means that day at 00:00 in the contact's time zone; offset days move
    the wall clock there (so "1 day before" keeps the time of day across a DST change), hours
    and minutes move the instant."""
    zone = _zone(contact.timezone)
    field = step["field"]
    raw = getattr(contact, field) if field in _BUILTIN_DATETIMES else contact.fields.get(field)
    if raw in (None, ""):
        return None
    try:
        if kind == "date":
            day = dt.date.fromisoformat(str(raw)[:10])
            local = dt.datetime.combine(day, dt.time(), tzinfo=zone)
        else:
            value = raw if isinstance(raw, dt.datetime) else parse_iso_datetime(str(raw))
            if value is None:
                return None
            local = value.astimezone(zone)
    except (ValueError, OverflowError):
        return None
    days, exact = offset_parts(step.get("offset"))
    try:
        return (local + days).astimezone(dt.UTC) + exact
    except OverflowError:
        return None


def run_wait_for_event(cursors: Sequence[Cursor], step: dict, run: Run) -> None:
    """on_event when the contact has an event of that name since the step started, on_timeout
    once the timeout has passed, else asleep until the timeout (woken by the event)."""
    name, timeout = step["event"], duration_of(step["timeout"])
    since = min(cursor.step_started_at for cursor in cursors)
    latest = dict(
        Event.objects.filter(
            contact_id__in={cursor.contact_id for cursor in cursors},
            name=name,
            occurred_at__gte=since,
        )
        .values("contact_id")
        .annotate(latest=Max("occurred_at"))
        .values_list("contact_id", "latest")
    )
    for cursor in cursors:
        happened = latest.get(cursor.contact_id)
        deadline = cursor.step_started_at + timeout
        if happened is not None and happened >= cursor.step_started_at:
            cursor.advance(outcome="on_event", path="on_event")
        elif run.now >= deadline:
            cursor.advance(outcome="on_timeout", path="on_timeout")
        else:
            cursor.sleep(deadline, event=name)


def _field_kind(field: str) -> str | None:
    if field in _BUILTIN_DATETIMES:
        return "datetime"
    return CustomField.objects.filter(key=field).values_list("type", flat=True).first()


def _zone(name: str | None) -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo(name) if name else dt.UTC
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.UTC
