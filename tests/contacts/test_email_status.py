"""contacts.email_status: the status only rises (active < unsubscribed < bounced <
complained), in one conditional UPDATE, announced inside the writer's transaction."""

import pytest

from contacts.email_status import contact_email_status_set
from contacts.models import Contact
from contacts.signals import contacts_changed
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db
ORDER = ["active", "unsubscribed", "bounced", "complained"]


@pytest.mark.parametrize("current", ORDER)
@pytest.mark.parametrize("new", ORDER[1:])
def test_the_status_rises_and_never_falls(current, new):
    contact = ContactFactory(email_status=current)

    changed = contact_email_status_set(contact_id=contact.pk, status=new, reason="test")

    expected = new if ORDER.index(new) > ORDER.index(current) else current
    assert Contact.objects.get(pk=contact.pk).email_status == expected
    assert changed is (expected != current)


def test_a_change_is_announced_and_a_no_change_is_not():
    contact = ContactFactory()
    announced = []

    def receiver(sender, contact_ids, changes, **kwargs):
        announced.append((list(contact_ids), set(changes)))

    contacts_changed.connect(receiver)
    try:
        contact_email_status_set(contact_id=contact.pk, status="bounced", reason="test")
        contact_email_status_set(contact_id=contact.pk, status="bounced", reason="again")
    finally:
        contacts_changed.disconnect(receiver)

    assert announced == [([contact.pk], {"field:email_status"})]


def test_the_change_moves_updated_at():
    contact = ContactFactory()
    before = Contact.objects.get(pk=contact.pk).updated_at

    contact_email_status_set(contact_id=contact.pk, status="complained", reason="test")

    assert Contact.objects.get(pk=contact.pk).updated_at > before


def test_an_unknown_status_is_a_programming_error():
    contact = ContactFactory()

    with pytest.raises(ValueError):
        contact_email_status_set(contact_id=contact.pk, status="gone", reason="test")
