import datetime as dt

import pytest

from contacts.models import Contact
from contacts.scoring import contacts_score_adjust
from scoring.decay import scores_decay
from scoring.models import ScoreLedgerEntry
from tests.factories import ContactFactory
from tests.scoring.conftest import NOW

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)


def scored(score: int, *, last_activity_at) -> Contact:
    contact = ContactFactory(created_at=NOW - 400 * DAY, last_activity_at=last_activity_at)
    contacts_score_adjust(contact_ids=[contact.pk], delta=score, reason="test")
    return contact


def score(contact) -> int:
    return Contact.objects.get(pk=contact.pk).lead_score


def test_decay_is_off_by_default():
    contact = scored(50, last_activity_at=NOW - 100 * DAY)

    assert scores_decay(now=NOW) == 0
    assert score(contact) == 50


def test_inactive_contacts_lose_the_percentage_rounded_up(decay_on):
    idle = scored(55, last_activity_at=NOW - 31 * DAY)
    small = scored(1, last_activity_at=NOW - 31 * DAY)
    active = scored(55, last_activity_at=NOW - 29 * DAY)

    assert scores_decay(now=NOW) == 2

    assert (score(idle), score(small), score(active)) == (49, 0, 55)
    row = ScoreLedgerEntry.objects.get(contact=idle, reason="decay")
    assert row.delta == -6


def test_decay_is_idempotent_per_period(decay_on):
    idle = scored(100, last_activity_at=NOW - 31 * DAY)

    scores_decay(now=NOW)
    scores_decay(now=NOW + DAY)
    scores_decay(now=NOW + 20 * DAY)
    assert score(idle) == 90

    scores_decay(now=NOW + 30 * DAY)  # the second period of inactivity
    scores_decay(now=NOW + 31 * DAY)
    assert score(idle) == 81
    assert ScoreLedgerEntry.objects.filter(contact=idle, reason="decay").count() == 2


def test_new_activity_starts_the_count_again(decay_on):
    contact = scored(100, last_activity_at=NOW - 31 * DAY)
    scores_decay(now=NOW)
    Contact.objects.filter(pk=contact.pk).update(last_activity_at=NOW)

    scores_decay(now=NOW + 29 * DAY)
    assert score(contact) == 90
    scores_decay(now=NOW + 30 * DAY)
    assert score(contact) == 81


def test_zero_and_negative_scores_do_not_decay(decay_on):
    negative = scored(-20, last_activity_at=None)
    zero = ContactFactory(created_at=NOW - 400 * DAY)

    assert scores_decay(now=NOW) == 0
    assert (score(negative), score(zero)) == (-20, 0)
