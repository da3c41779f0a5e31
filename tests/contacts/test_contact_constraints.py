"""Database constraints on contacts that the segment compiler relies on for exact SQL."""

import pytest
from django.db import IntegrityError, transaction

from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("country", ["fr", "F1", "F", "\u212aR"])
def test_country_is_stored_as_two_ascii_capitals_only(country):
    with pytest.raises(IntegrityError), transaction.atomic():
        ContactFactory(country=country)


@pytest.mark.parametrize("country", ["FR", None])
def test_country_may_be_two_capitals_or_unset(country):
    assert ContactFactory(country=country).country == country
