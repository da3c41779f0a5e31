import datetime as dt
import importlib
from types import SimpleNamespace

import pytest
import time_machine

from contacts.ingest import EventInput, events_ingest
from scoring import rule_watch
from scoring.event_scoring import pending_score_events_process
from scoring.models import ScoreDecay, ScoringRule
from scoring.rules import rule_create

NOW = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _fresh_watched_names():
    rule_watch.watched_reset()
    yield
    rule_watch.watched_reset()


@pytest.fixture
def no_default_rules(db):
    """Only the rules a test creates (the data migration ships the defaults)."""
    ScoringRule.objects.all().delete()


@pytest.fixture
def default_rules(db):
    """The rules the data migration ships (created again if a transactional test emptied the
    tables; the migration's own function, so what is tested is what ships)."""
    from django.apps import apps
    from django.db import connection

    shipped = importlib.import_module("scoring.migrations.0002_default_rules")
    shipped.create_defaults(apps, SimpleNamespace(connection=connection))


@pytest.fixture
def default_rules_migration(db):
    """The data migration's function, to run it on the data a test made."""
    from django.apps import apps
    from django.db import connection

    shipped = importlib.import_module("scoring.migrations.0002_default_rules")
    return lambda: shipped.create_defaults(apps, SimpleNamespace(connection=connection))


@pytest.fixture
def decay_on(db):
    """The workspace's decay on at -10 % per 30 days (its row made again if a transactional
    test emptied the tables the migration filled)."""
    ScoreDecay.objects.all().delete()
    ScoreDecay.objects.create(active=True, percent=10, every_days=30)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def event(name: str, email: str, **values) -> EventInput:
    values.setdefault("occurred_at", NOW - dt.timedelta(minutes=1))
    return EventInput(name=name, email=email, **values)


def ingest_and_score(events: list[EventInput], *, now: dt.datetime = NOW) -> int:
    """Ingest like the API, then run the scoring worker's service like its task does."""
    events_ingest(events=events, now=now)
    return pending_score_events_process(now=now)


def event_rule(event_name: str, points: int, **extra) -> ScoringRule:
    return rule_create(
        data={"name": f"{event_name} {points}", "event": event_name, "points": points, **extra}
    )
