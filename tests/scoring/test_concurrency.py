import threading
import time

import pytest
from django.db import connection, transaction
from django.utils import timezone

from contacts.ingest import events_ingest
from contacts.models import Contact, Event
from scoring.event_scoring import events_score
from scoring.models import ScoreLedgerEntry, ScoringRule
from tests.factories import ContactFactory
from tests.scoring.conftest import event, event_rule


@pytest.mark.postgresql  # row locks between connections
@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_respect_the_daily_cap_of_one_contact():
    ScoringRule.objects.all().delete()
    # inactive while ingesting, so the (eager) scoring task leaves the events to the threads
    rule = event_rule("email.opened", 1, daily_cap=4, active=False)
    contact = ContactFactory()
    now = timezone.now()
    events_ingest(events=[event("email.opened", contact.email)] * 6, now=now)
    ScoringRule.objects.filter(pk=rule.pk).update(active=True)
    assert not ScoreLedgerEntry.objects.exists()
    ids = sorted(Event.objects.values_list("pk", flat=True))
    first_scored = threading.Event()
    errors = []

    def first():  # scores three events and keeps its transaction open a moment
        try:
            with transaction.atomic():
                events_score(event_ids=ids[:3], now=now)
                first_scored.set()
                time.sleep(0.5)
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            first_scored.set()
            connection.close()

    def second():  # starts while the first has not committed
        try:
            first_scored.wait()
            with transaction.atomic():
                events_score(event_ids=ids[3:], now=now)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert Contact.objects.get(pk=contact.pk).lead_score == 4
    assert ScoreLedgerEntry.objects.filter(contact=contact).count() == 4
