"""The workspace's sending policy applied to a send_email step (docs/sending-rules.md): per
enrollment, send now, delay until a moment (with the reason shown on the enrollment), or
skip (the frequency cap, when the flow says so).

Invariants:
- Set-based: a group of enrollments at one step costs at most two queries (the template's
  transactional flag, then one query for the contacts' time zones and, when a cap is set,
  their counted messages), none when the policy has no rule on; on PostgreSQL a cap adds one
  statement, the contacts' locks below.
- With a cap, the count is taken under a per-contact lock held until the caller's
  transaction ends (PostgreSQL advisory locks, taken in contact id order): two workers
  preparing a send to the same contact at the same instant (two flows) run one after the
  other, and the second counts the first's message, so the cap holds across workers.
- The cap counts a contact's marketing messages (not transactional templates, not test
  sends) that are queued, sending, sent or unknown and were created in the rolling window
  (`created_at > now - hours`); it allows a send while that count is below the cap. A delay
  lasts until the oldest counted message leaves the window; the step re-checks then.
- The send window is pure Python over the contacts' time zones (zoneinfo: DST-safe); a
  missing or unknown zone falls back to the policy's default_timezone, then UTC.
- Transactional templates are exempt from both rules; holdout enrollments are never delayed
  (their message is skipped anyway). A decision is only ever "send" for those.

The policy itself is changed through `sending_policy_update` (the settings page, the admin),
its values checked by `sending_policy_problems`.
"""

import datetime as dt
import functools
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from django.db import connection as db
from django.db import transaction
from django.db.models import Count, IntegerField, Min, OuterRef, Q, Subquery

from automation.models import EmailTemplate, Enrollment, Message, MessageStatus, SendingPolicy
from contacts.models import Contact

SEND, DELAY, SKIP = "send", "delay", "skip"
CAP_MODES = ("delay", "skip")
FREQUENCY_CAP = "frequency_cap"  # the skipped message's reason
# Statuses that count against the cap: everything that went, or may have gone, out.
COUNTED_STATUSES = (
    MessageStatus.QUEUED,
    MessageStatus.SENDING,
    MessageStatus.SENT,
    MessageStatus.UNKNOWN,
)
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_REASON_MAX = Enrollment._meta.get_field("delay_reason").max_length


@dataclass(frozen=True, slots=True)
class SendDecision:
    action: str = SEND  # SEND, DELAY or SKIP
    until: dt.datetime | None = None  # DELAY: due again then (the rules are re-checked)
    reason: str = ""  # DELAY: shown on the enrollment; SKIP: the message's reason


SEND_NOW = SendDecision()


@dataclass(frozen=True, slots=True)
class SendWindow:
    """Sends allowed from `start` to `end` local time (end excluded) on `days` (ISO weekdays,
    empty = every day). `start > end` is an overnight window (20:00-06:00): it belongs to the
    day it starts on."""

    start: dt.time
    end: dt.time
    days: frozenset[int]

    @property
    def overnight(self) -> bool:
        return self.start > self.end

    def next_open(self, now: dt.datetime, zone: dt.tzinfo) -> dt.datetime | None:
        """None when a send may go out at `now` in `zone`, else the moment the window next
        opens (UTC). Windows are compared as instants, so a DST change moves neither edge."""
        today = now.astimezone(zone).date()
        for offset in range(-1, 9):  # yesterday's overnight window may still be open
            day = today + dt.timedelta(days=offset)
            if self.days and day.isoweekday() not in self.days:
                continue
            opens = _instant(day, self.start, zone)
            closes = _instant(day + dt.timedelta(days=int(self.overnight)), self.end, zone)
            if now < opens:
                return opens
            if now < closes:
                return None
        return None  # unreachable with at least one day allowed

    def describe(self, zone_name: str) -> str:
        return f"sends {self.start:%H:%M}–{self.end:%H:%M} {days_text(self.days)} {zone_name}"


def _instant(day: dt.date, time: dt.time, zone: dt.tzinfo) -> dt.datetime:
    """That wall-clock time on that day in `zone`, as a UTC instant. A time skipped by a DST
    change (02:30 on a spring-forward day) maps to the instant just after the gap; a repeated
    one to its first occurrence."""
    return dt.datetime.combine(day, time, tzinfo=zone).astimezone(dt.UTC)


def days_text(days: Iterable[int]) -> str:
    """ISO weekdays in words: "every day", "Mon–Fri", "Sat, Sun", "Mon, Wed–Fri"."""
    days = sorted(set(days))
    if not days or len(days) == 7:
        return "every day"
    runs: list[list[int]] = []
    for day in days:
        if runs and day == runs[-1][-1] + 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    parts = []
    for run in runs:
        if len(run) >= 3:
            parts.append(f"{WEEKDAYS[run[0] - 1]}–{WEEKDAYS[run[-1] - 1]}")
        else:
            parts.extend(WEEKDAYS[day - 1] for day in run)
    return ", ".join(parts)


def policy_window(policy: SendingPolicy) -> SendWindow | None:
    """The policy's send window, None when off or incomplete."""
    if not policy.send_window_enabled or policy.send_window_start is None:
        return None
    if policy.send_window_end is None or policy.send_window_start == policy.send_window_end:
        return None
    days = frozenset(d for d in policy.send_window_days or () if isinstance(d, int) and 1 <= d <= 7)
    return SendWindow(policy.send_window_start, policy.send_window_end, days)


def zone_of(name: str | None, default: str = "UTC") -> tuple[dt.tzinfo, str]:
    """(zone, its name) for an IANA name; the default (then UTC) when missing or unknown."""
    for candidate in (name, default):
        if not candidate:
            continue
        try:
            return zoneinfo.ZoneInfo(candidate), candidate
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            continue
    return dt.UTC, "UTC"


def send_decisions(
    *,
    enrollments: Sequence[Enrollment],
    step: dict,
    now: dt.datetime,
    policy: SendingPolicy | None = None,
    on_cap: str = DELAY,
) -> dict[int, SendDecision]:
    """Enrollment id -> SendDecision for a batch at one send_email `step`, in at most two
    queries (none when the policy has no rule on). `on_cap` is the flow's "frequency_cap"
    setting: "delay" or "skip". The bench and the engine call this before messages_prepare:
    the DELAY ones are not prepared, the SKIP ones go in as `skip_reasons(decisions)`."""
    policy = policy if policy is not None else SendingPolicy.current()
    cap = policy.frequency_cap_count
    window = None if step.get("ignore_send_window") else policy_window(policy)
    ruled = [e for e in enrollments if not e.holdout]
    if not ruled or (cap is None and window is None) or _transactional(step):
        return {e.pk: SEND_NOW for e in enrollments}
    hours = max(policy.frequency_cap_hours or 0, 1)
    facts = _contact_facts(
        {e.contact_id for e in ruled}, now=now, window_hours=hours if cap is not None else None
    )
    decisions = {e.pk: SEND_NOW for e in enrollments}
    for enrollment in ruled:
        timezone, sent, oldest = facts.get(enrollment.contact_id, ("", 0, None))
        decisions[enrollment.pk] = _decide(
            now=now,
            window=window,
            zone=zone_of(timezone, policy.default_timezone),
            cap=cap,
            hours=hours,
            sent=sent,
            oldest=oldest,
            on_cap=on_cap,
        )
    return decisions


def skip_reasons(decisions: Mapping[int, SendDecision]) -> dict[int, str]:
    """The `skip_reasons` argument of automation.sending.messages_prepare."""
    return {pk: d.reason for pk, d in decisions.items() if d.action == SKIP}


def _decide(
    *,
    now: dt.datetime,
    window: SendWindow | None,
    zone: tuple[dt.tzinfo, str],
    cap: int | None,
    hours: int,
    sent: int,
    oldest: dt.datetime | None,
    on_cap: str,
) -> SendDecision:
    """Outside the window: delay until it opens (the cap is re-checked then). Inside it, at
    the cap: skip, or delay until the oldest counted message leaves the rolling window (and
    the window is open again)."""
    tz, zone_name = zone
    if window is not None and (opens := window.next_open(now, tz)) is not None:
        return SendDecision(DELAY, opens, _cut(f"quiet hours: {window.describe(zone_name)}"))
    if cap is None or sent < cap:
        return SEND_NOW
    if on_cap == SKIP:
        return SendDecision(SKIP, reason=FREQUENCY_CAP)
    until = (oldest or now) + dt.timedelta(hours=hours)
    if until <= now:  # cannot happen with the window's bound; never a delay into the past
        until = now + dt.timedelta(minutes=1)
    if window is not None and (opens := window.next_open(until, tz)) is not None:
        until = opens
    emails = "email" if cap == 1 else "emails"
    reason = f"frequency cap: {cap} {emails} in {hours} h, next at {until:%Y-%m-%d %H:%M} UTC"
    return SendDecision(DELAY, until, _cut(reason))


def _cut(reason: str) -> str:
    return reason[:_REASON_MAX]


def _transactional(step: dict) -> bool:
    """Transactional templates are exempt (a deleted template fails in messages_prepare)."""
    template = step.get("template")
    if template is None:
        return False
    flag = EmailTemplate.objects.filter(pk=template).values_list("transactional", flat=True)
    return bool(flag.first())


def _contact_facts(
    contact_ids: set[int], *, now: dt.datetime, window_hours: int | None
) -> dict[int, tuple[str, int, dt.datetime | None]]:
    """Contact id -> (time zone, messages counted, the oldest one's created_at), one query:
    the count and the oldest are correlated subqueries on the (contact, created_at) index,
    only when a cap is set."""
    rows = Contact.objects.filter(pk__in=contact_ids)
    if window_hours is None:
        return {pk: (tz, 0, None) for pk, tz in rows.values_list("pk", "timezone")}
    _contacts_lock(contact_ids)
    counted = (
        Message.objects.filter(
            contact_id=OuterRef("pk"),
            created_at__gt=now - dt.timedelta(hours=window_hours),
            created_at__lte=now,
            is_test=False,
            status__in=COUNTED_STATUSES,
        )
        .filter(Q(template__isnull=True) | Q(template__transactional=False))
        .order_by()
        .values("contact_id")
    )
    rows = rows.annotate(
        sent=Subquery(counted.annotate(n=Count("pk")).values("n"), output_field=IntegerField()),
        oldest=Subquery(counted.annotate(first=Min("created_at")).values("first")),
    )
    return {
        pk: (tz, sent or 0, oldest)
        for pk, tz, sent, oldest in rows.values_list("pk", "timezone", "sent", "oldest")
    }


# Advisory lock namespace of the cap's per-contact locks (two-int keys: apart from the
# project's one-bigint keys); "SFCP" in ASCII.
_CAP_LOCK_CLASS = 0x53464350


def _contacts_lock(contact_ids: set[int]) -> None:
    """Lock the contacts' cap until the transaction ends, in id order (no deadlock between
    two batches; a key shared by two ids modulo 2^31 only makes one wait). SQLite has one
    writer at a time: nothing to do."""
    if db.vendor != "postgresql" or not db.in_atomic_block:
        return
    with db.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, (id %% 2147483647)::int)"
            " FROM unnest(%s::bigint[]) AS contacts(id) ORDER BY id",
            [_CAP_LOCK_CLASS, sorted(contact_ids)],
        )


# --- changing the policy (the settings page and the admin) ------------------------------------

MAX_CAP_COUNT = 1000
MAX_CAP_HOURS = 24 * 30


@functools.cache
def _timezone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def timezone_problem(name: object) -> str | None:
    """Why `name` is not an IANA time zone name, or None."""
    if not isinstance(name, str) or name not in _timezone_names():
        return "Not a known IANA time zone name, e.g. Europe/Paris or America/New_York."
    return None


def sending_policy_problems(values: Mapping[str, object]) -> dict[str, str]:
    """Field -> error of a policy's values (SendingPolicy's field names). An enabled window
    needs a start and an end that differ; start after end is an overnight window."""
    problems = {}
    count, hours = values.get("frequency_cap_count"), values.get("frequency_cap_hours")
    if count is not None and not (isinstance(count, int) and 1 <= count <= MAX_CAP_COUNT):
        problems["frequency_cap_count"] = f"Must be a whole number from 1 to {MAX_CAP_COUNT}."
    if not (isinstance(hours, int) and 1 <= hours <= MAX_CAP_HOURS):
        problems["frequency_cap_hours"] = f"Must be a whole number of hours, 1 to {MAX_CAP_HOURS}."
    if values.get("send_window_enabled"):
        start, end = values.get("send_window_start"), values.get("send_window_end")
        if start is None:
            problems["send_window_start"] = "Required when the send window is on."
        if end is None:
            problems["send_window_end"] = "Required when the send window is on."
        if start is not None and start == end:
            problems["send_window_end"] = "Must differ from the start (a window of no time)."
    days = values.get("send_window_days") or []
    if not isinstance(days, list) or any(d not in range(1, 8) for d in days):
        problems["send_window_days"] = "Must be ISO weekdays, 1 (Monday) to 7 (Sunday)."
    if problem := timezone_problem(values.get("default_timezone")):
        problems["default_timezone"] = problem
    return problems


def sending_policy_update(*, values: Mapping[str, object]) -> SendingPolicy:
    """Save the workspace's policy (its one row, created on the first save). The values are
    checked by `sending_policy_problems` first (ValueError listing them)."""
    if problems := sending_policy_problems(values):
        raise ValueError(problems)
    with transaction.atomic():
        policy = SendingPolicy.objects.select_for_update().order_by("pk").first()
        policy = policy or SendingPolicy()
        for name in POLICY_FIELDS:
            if name in values:
                setattr(policy, name, values[name])
        policy.send_window_days = sorted(set(policy.send_window_days or []))
        policy.save()
    return policy


POLICY_FIELDS = (
    "frequency_cap_count",
    "frequency_cap_hours",
    "send_window_enabled",
    "send_window_start",
    "send_window_end",
    "send_window_days",
    "default_timezone",
)
