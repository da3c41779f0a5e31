import pytest
from django.db import transaction

from contacts.signals import contacts_changed, contacts_changed_coalesced, notify_contacts_changed

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent():
    signals = []

    def receiver(sender, *, contact_ids, changes, **kwargs):
        signals.append((contact_ids, set(changes)))

    contacts_changed.connect(receiver, dispatch_uid="tests.sent")
    yield signals
    contacts_changed.disconnect(dispatch_uid="tests.sent")


def test_each_write_is_announced_at_once_inside_its_transaction(sent):
    with transaction.atomic():
        notify_contacts_changed([2], ["tags"])
        notify_contacts_changed([1], ["tags"])
        assert sent == [([2], {"tags"}), ([1], {"tags"})]


def test_what_receivers_record_rolls_back_with_the_write():
    from segments.models import PendingContactChange

    with pytest.raises(RuntimeError), transaction.atomic():
        notify_contacts_changed([1], ["tags"])
        assert PendingContactChange.objects.filter(contact_ids=[1]).exists()
        raise RuntimeError
    with transaction.atomic():
        notify_contacts_changed([2], ["tags"])
        try:
            with transaction.atomic():
                notify_contacts_changed([3], ["tags"])
                raise RuntimeError
        except RuntimeError:
            pass

    assert list(PendingContactChange.objects.values_list("contact_ids", flat=True)) == [[2]]


def test_coalesced_writes_are_announced_once_per_kind_of_change_at_the_end_of_the_block(sent):
    with transaction.atomic():
        with contacts_changed_coalesced():
            notify_contacts_changed([3], ["tags"])
            notify_contacts_changed([1], ["field:email"])
            notify_contacts_changed([2, 1], ["tags"])
            assert sent == []
        assert sent == [([1, 2, 3], {"tags"}), ([1], {"field:email"})]


def test_nothing_is_announced_when_the_coalesced_block_fails(sent):
    with pytest.raises(RuntimeError), transaction.atomic(), contacts_changed_coalesced():
        notify_contacts_changed([1], ["tags"])
        raise RuntimeError

    assert sent == []


def test_an_upsert_with_fields_and_tags_is_announced_once(sent):
    from contacts.services import contact_upsert

    contact, _ = contact_upsert(values={"email": "t@example.com", "country": "FR"}, tags=["vip"])

    assert sent == [([contact.pk], {"field:email", "field:country", "tags"})]
