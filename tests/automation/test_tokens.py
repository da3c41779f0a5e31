"""Unsubscribe and preferences tokens: signed the fast way, yet exactly Django's signed
objects, so links in emails sent before keep working and Django's signer reads them."""

import pytest
from django.core import signing

from automation.tokens import (
    PREFERENCES_SALT,
    UNSUBSCRIBE_SALT,
    preferences_token,
    preferences_token_read,
    unsubscribe_token,
    unsubscribe_token_read,
)


@pytest.mark.parametrize("ids", [(7, 12), (None, 3), (5, None), (None, None), (10**12, 1)])
def test_tokens_are_django_signed_objects(ids):
    contact_id, message_id = ids

    unsubscribe = unsubscribe_token(contact_id=contact_id, message_id=message_id)
    preferences = preferences_token(contact_id=contact_id, message_id=message_id)

    expected = [contact_id, message_id]
    assert unsubscribe == signing.Signer(salt=UNSUBSCRIBE_SALT).sign_object(expected)
    assert preferences == signing.Signer(salt=PREFERENCES_SALT).sign_object(expected)
    assert signing.Signer(salt=UNSUBSCRIBE_SALT).unsign_object(unsubscribe) == expected
    read = unsubscribe_token_read(unsubscribe)
    assert (read.contact_id, read.message_id) == ids


def test_a_token_of_one_purpose_is_not_one_of_the_other(settings):
    unsubscribe = unsubscribe_token(contact_id=1, message_id=2)

    assert preferences_token_read(unsubscribe) is None
    assert unsubscribe_token_read(unsubscribe[:-1] + "x") is None
    settings.SECRET_KEY = "another secret key, rotated without a fallback"
    assert unsubscribe_token_read(unsubscribe) is None


def test_a_token_signed_before_a_key_rotation_still_reads(settings):
    unsubscribe = unsubscribe_token(contact_id=1, message_id=2)
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "the new secret key of this workspace, long enough"

    read = unsubscribe_token_read(unsubscribe)

    assert (read.contact_id, read.message_id) == (1, 2)
    assert unsubscribe_token(contact_id=1, message_id=2) != unsubscribe
