import pytest
from django.utils import timezone

from tests.factories import SegmentFactory

pytestmark = pytest.mark.django_db


def test_segment_list_shows_no_size_before_the_first_evaluation(marketer_client):
    SegmentFactory(name="Fresh", size=0, last_evaluated_at=None)
    SegmentFactory(name="Counted", size=1234, last_evaluated_at=timezone.now())

    page = marketer_client.get("/segments/").content.decode()

    assert "1,234" in page
    assert "not yet (waiting for the worker)" in page
