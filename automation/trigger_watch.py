"""Which event names flows watch, and when each flow became active.

The ingest path asks "does any flow care about these names?" for every write, so the answer
is cached in each process for WATCH_TTL_SECONDS (no query per request) and dropped at once
in the process that saves a flow. Another process may go on with the old answer for up to
the TTL after an activation commits: the events it stored meanwhile left no outbox row. The
activation sweep (automation.triggers) closes that gap: once ACTIVATION_GAP +
ACTIVATION_SETTLE have passed since an activation, it reads the trigger's events received in
its first ACTIVATION_GAP from the events table (rows after the flow's activation_event_id,
which it then clears) and enrolls them through the same idempotent path ("event:<id>" is
unique per flow).

Activations are stamped (Flow.activated_at, activation_event_id) by the pre_save / post_save
receivers below, so any save() that activates a flow (flow_activate, the admin) stamps it.

Watched names:
- trigger names: the event trigger of every active flow's live version;
- awaited names: wait_for_event names and event / email names read by exit_when, of every
  version of an active or paused flow (a superset of the versions with active enrollments,
  which archived flows have none of), so a sleeping enrollment can be woken early.
"""

import datetime as dt
import threading
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import BooleanField, ExpressionWrapper, F, Max, Q
from django.utils import timezone

from automation.flow_tree import flow_tree
from automation.models import Flow, FlowStatus, FlowVersion, TriggerType
from contacts.models import Event
from segments.feed import transitions_claim
from segments.tree import dependencies

WATCH_TTL_SECONDS = 3.0
# The TTL, plus the activating transaction's own length after the stamp (enrolling a
# segment's current members) and the time between an event's received_at and its change
# signal (a large batch): events received later are all queued by their writer.
ACTIVATION_GAP = dt.timedelta(minutes=2)
# Then this long again for the writes received in the gap but still running to commit.
ACTIVATION_SETTLE = dt.timedelta(seconds=30)
# The flows' cursor in the segment transitions feed (segments.feed).
FEED_CONSUMER = "flows"


@dataclass(frozen=True, slots=True)
class Watched:
    triggers: frozenset[str] = frozenset()
    awaited: frozenset[str] = frozenset()
    # event name -> ids of the versions whose exit_when reads it
    exit_readers: Mapping[str, frozenset[int]] = field(default_factory=dict)

    @property
    def names(self) -> frozenset[str]:
        return self.triggers | self.awaited | frozenset(self.exit_readers)


def watched_load() -> Watched:
    """Read the watched names now (one query)."""
    triggers: set[str] = set()
    awaited: set[str] = set()
    exit_readers: dict[str, set[int]] = defaultdict(set)
    live = Q(flow__status=FlowStatus.ACTIVE, flow__live_version=F("pk"))
    versions = (
        FlowVersion.objects.filter(flow__status__in=(FlowStatus.ACTIVE, FlowStatus.PAUSED))
        .annotate(live=ExpressionWrapper(live, output_field=BooleanField()))
        .values_list("pk", "trigger_type", "trigger_event", "definition", "live")
    )
    for pk, trigger_type, trigger_event, definition, is_live in versions:
        if is_live and trigger_type == TriggerType.EVENT and trigger_event:
            triggers.add(trigger_event)
        awaited |= flow_tree(FlowVersion(pk=pk, definition=definition)).event_names_awaited()
        for name in dependencies(definition.get("exit_when")).events:
            exit_readers[name].add(pk)
    return Watched(
        triggers=frozenset(triggers),
        awaited=frozenset(awaited),
        exit_readers={name: frozenset(ids) for name, ids in exit_readers.items()},
    )


_clock = time.monotonic
_cache: tuple[float, frozenset[str]] | None = None
_cache_lock = threading.Lock()


def watched_names() -> frozenset[str]:
    """The watched names, cached in this process for WATCH_TTL_SECONDS."""
    global _cache
    cached = _cache
    if cached is not None and _clock() < cached[0]:
        return cached[1]
    with _cache_lock:
        names = watched_load().names
        _cache = (_clock() + WATCH_TTL_SECONDS, names)
    return names


def watched_reset() -> None:
    """Forget the cached names (this process reads them again on the next write)."""
    global _cache
    _cache = None


# --- Activation stamps (receivers of Flow's pre_save / post_save) ----------------------------


def on_flow_pre_save(sender, *, instance: Flow, **kwargs) -> None:
    """Remember on the instance whether this save activates the flow (it becomes active, or
    gets another live version while active): one indexed read, on flow saves only."""
    instance._trigger_activation = False
    if instance.status != FlowStatus.ACTIVE:
        return
    before = None
    if instance.pk is not None:
        before = (
            Flow.objects.filter(pk=instance.pk).values_list("status", "live_version_id").first()
        )
    instance._trigger_activation = before != (FlowStatus.ACTIVE, instance.live_version_id)


def on_flow_post_save(sender, *, instance: Flow, **kwargs) -> None:
    """Stamp an activation (a separate UPDATE, whatever update_fields the save had), and drop
    this process's watched names now and again at commit."""
    if getattr(instance, "_trigger_activation", False):
        flow_activation_stamp(flow=instance, now=timezone.now())
    watched_reset()
    transaction.on_commit(watched_reset)


def on_flow_deleted(sender, **kwargs) -> None:
    watched_reset()
    transaction.on_commit(watched_reset)


def flow_activation_stamp(*, flow: Flow, now: dt.datetime) -> None:
    """Record when the flow became active and the last event id stored before then; make
    sure the flows' cursor of the transitions feed exists (one created later would start
    after the transitions written meanwhile)."""
    last_event_id = Event.objects.aggregate(last=Max("pk"))["last"] or 0
    with transaction.atomic():  # the activating transaction's, or one of its own
        Flow.objects.filter(pk=flow.pk).update(activated_at=now, activation_event_id=last_event_id)
        transitions_claim(consumer=FEED_CONSUMER, limit=0)
    flow.activated_at, flow.activation_event_id = now, last_event_id


def live_event_versions(**filters) -> list[FlowVersion]:
    """The live versions of active event-triggered flows (with their flow), filtered."""
    return list(
        FlowVersion.objects.filter(
            trigger_type=TriggerType.EVENT,
            flow__status=FlowStatus.ACTIVE,
            flow__live_version=F("pk"),
            **filters,
        ).select_related("flow")
    )
