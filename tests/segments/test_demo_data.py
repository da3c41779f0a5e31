import datetime as dt

import pytest

from contacts.demo_data import demo_dataset_create
from segments.demo_data import DEMO_SEGMENTS, demo_segments_create
from segments.evaluation import segment_evaluate
from segments.models import Segment

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)


def test_creates_every_example_segment():
    demo_dataset_create(contacts=5, now=NOW)

    demo_segments_create()

    assert sorted(Segment.objects.values_list("name", flat=True)) == sorted(
        spec["name"] for spec in DEMO_SEGMENTS
    )


def test_every_example_segment_has_members_in_the_demo_data():
    demo_dataset_create(contacts=300, now=NOW)
    segments = demo_segments_create()

    sizes = {s.name: segment_evaluate(segment=s, now=NOW).size for s in segments}

    assert all(0 < size < 300 for size in sizes.values()), sizes
