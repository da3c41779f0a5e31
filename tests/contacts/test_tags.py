"""Tag names are matched case-insensitively the way the database's unique index does it."""

import pytest

from contacts.models import Tag
from contacts.tags import tags_get_or_create
from tests.factories import TagFactory

pytestmark = pytest.mark.django_db


def test_existing_ascii_tags_are_found_in_one_query(django_assert_num_queries):
    TagFactory(name="VIP")
    TagFactory(name="newsletter")

    with django_assert_num_queries(1):
        tags = tags_get_or_create(["vip", "Newsletter"])

    assert [tag.name for tag in tags] == ["VIP", "newsletter"]


def test_non_ascii_names_ask_the_database_how_it_lower_cases(django_assert_num_queries):
    TagFactory(name="ΟΔΟΣ")

    with django_assert_num_queries(2):
        [tag] = tags_get_or_create(["οδοσ"])

    assert tag.name == "ΟΔΟΣ"


def test_names_the_database_lower_cases_alike_are_one_tag():
    tags = tags_get_or_create(["ΟΔΟΣ", "οδοσ", "İstanbul", "istanbul"])

    assert [tag.name for tag in tags] == ["ΟΔΟΣ", "İstanbul"]
    assert Tag.objects.count() == 2
