import threading

import pytest
from django.db import connection

from contacts.models import Contact
from contacts.scoring import contact_score_adjust, contacts_score_adjust
from contacts.signals import contacts_changed
from tests.factories import ContactFactory


@pytest.fixture
def announced():
    changes = []

    def receiver(sender, contact_ids, changes: frozenset, **kwargs):
        seen.append((list(contact_ids), set(changes)))

    seen = changes
    contacts_changed.connect(receiver, weak=False, dispatch_uid="test-scoring")
    yield changes
    contacts_changed.disconnect(dispatch_uid="test-scoring")


@pytest.mark.django_db
def test_adjusting_adds_the_delta_and_announces_the_lead_score(announced):
    contact = ContactFactory(lead_score=7)

    contact_score_adjust(contact_id=contact.pk, delta=-10, reason="test")

    contact.refresh_from_db()
    assert contact.lead_score == -3
    assert announced == [([contact.pk], {"field:lead_score"})]


@pytest.mark.django_db
def test_a_zero_delta_changes_and_announces_nothing(announced):
    contact = ContactFactory(lead_score=7)

    assert contacts_score_adjust(contact_ids=[contact.pk], delta=0, reason="test") == 0
    assert announced == []


@pytest.mark.postgresql  # row locks between connections
@pytest.mark.django_db(transaction=True)
def test_concurrent_adjustments_add_up():
    contact = ContactFactory(lead_score=0)
    barrier = threading.Barrier(4)

    def adjust():
        try:
            barrier.wait()
            for _ in range(10):
                contact_score_adjust(contact_id=contact.pk, delta=1, reason="test")
        finally:
            connection.close()

    threads = [threading.Thread(target=adjust) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert Contact.objects.get(pk=contact.pk).lead_score == 40
