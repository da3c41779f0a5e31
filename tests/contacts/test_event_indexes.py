"""The indexes of contacts_event are part of segment evaluation's speed (docs/benchmarks.md,
Segments): pin the ones the segment bench relies on."""

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


def event_indexes() -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'contacts_event'"
        )
        return dict(cursor.fetchall())


def test_lookups_by_contact_have_one_index_the_one_with_name_and_time():
    # A second index on contact_id alone let the planner, on a low row estimate, answer
    # "not performed purchase in 7 days" by reading every event of each contact.
    leading_contact = {
        name: definition
        for name, definition in event_indexes().items()
        if "(contact_id" in definition
    }

    assert list(leading_contact) == ["event_contact_name_time_idx"]
    assert "(contact_id, name, occurred_at)" in leading_contact["event_contact_name_time_idx"]
