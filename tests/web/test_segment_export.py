"""Exporting a segment's members as CSV: streamed in chunks, every member with the built-in
and custom fields and tags, and no cell a spreadsheet would run as a formula."""

import csv
import io

import pytest

from tests.factories import (
    ContactFactory,
    ContactTagFactory,
    CustomFieldFactory,
    SegmentFactory,
    SegmentMembershipFactory,
    TagFactory,
)
from web.views.segment_export import csv_cell, segment_csv_lines

pytestmark = pytest.mark.django_db


def _rows(response) -> list[dict]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def test_export_streams_every_member_with_custom_fields_and_tags(marketer_client):
    CustomFieldFactory(key="plan", type="choice", choices=["free", "pro"])
    CustomFieldFactory(key="seats", type="number")
    segment = SegmentFactory(name="Pro users")
    members = [ContactFactory(fields={"plan": "pro", "seats": n}, lead_score=n) for n in range(5)]
    for contact in members:
        SegmentMembershipFactory(segment=segment, contact=contact)
    ContactTagFactory(contact=members[0], tag=TagFactory(name="vip"))
    ContactTagFactory(contact=members[0], tag=TagFactory(name="Beta"))
    left = ContactFactory()
    SegmentMembershipFactory(segment=segment, contact=left, left_at=members[0].created_at)
    ContactFactory()  # never a member

    response = marketer_client.get(f"/segments/{segment.pk}/export.csv")

    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="segment-' in response["Content-Disposition"]
    rows = _rows(response)
    assert [int(row["id"]) for row in rows] == [c.pk for c in members]
    assert list(rows[0]) == [
        "id", "email", "first_name", "last_name", "country", "timezone", "external_id",
        "email_status", "lead_score", "created_at", "plan", "seats", "tags",
    ]  # fmt: skip
    assert rows[0]["email"] == members[0].email
    assert rows[3]["plan"] == "pro" and rows[3]["seats"] == "3" and rows[3]["lead_score"] == "3"
    assert rows[0]["tags"] == "Beta, vip"
    assert rows[0]["created_at"].endswith("Z")


def test_chunks_cover_every_member_once(django_assert_num_queries):
    segment = SegmentFactory()
    members = ContactFactory.create_batch(7)
    for contact in members:
        SegmentMembershipFactory(segment=segment, contact=contact)

    # field keys, then per chunk of 3: ids, contacts, their tags (3 chunks), then the empty read
    with django_assert_num_queries(1 + 3 * 3 + 1):
        lines = list(segment_csv_lines(segment=segment, chunk_size=3))

    ids = [int(row["id"]) for row in csv.DictReader(io.StringIO("".join(lines)))]
    assert ids == [c.pk for c in members]
    assert len(lines) == 1 + 3  # the header, then one string per chunk


def test_cells_that_would_be_formulas_are_prefixed(marketer_client):
    CustomFieldFactory(key="note", type="text")
    segment = SegmentFactory()
    contact = ContactFactory(
        first_name='=HYPERLINK("http://evil")',
        last_name="+1+1",
        external_id="@SUM(A1)",
        lead_score=-5,
        fields={"note": "-2+3"},
    )
    ContactTagFactory(contact=contact, tag=TagFactory(name="=cmd"))
    SegmentMembershipFactory(segment=segment, contact=contact)

    (row,) = _rows(marketer_client.get(f"/segments/{segment.pk}/export.csv"))

    assert row["first_name"] == '\'=HYPERLINK("http://evil")'
    assert row["last_name"] == "'+1+1"
    assert row["external_id"] == "'@SUM(A1)"
    assert row["note"] == "'-2+3"
    assert row["tags"] == "'=cmd"
    assert row["lead_score"] == "-5"  # a plain number is no formula


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        (None, ""),
        (True, "true"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("-1.5", "-1.5"),
        ("-1e3", "-1e3"),
        ("a=b", "a=b"),
        (["x", "y"], "x, y"),
    ],
)
def test_csv_cell(value, cell):
    assert csv_cell(value) == cell


def test_unknown_segment_is_404(marketer_client):
    assert marketer_client.get("/segments/999999/export.csv").status_code == 404
