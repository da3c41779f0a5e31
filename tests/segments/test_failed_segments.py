"""A segment whose evaluation fails is marked failed with a readable reason, skipped by
background evaluation until its conditions change or an explicit evaluation succeeds, and
answered with a 409 (never a 500) where it would be evaluated or read."""

import datetime as dt

import pytest
from django.db import OperationalError

from contacts.models import Contact, CustomField
from segments import evaluation
from segments.evaluation import SegmentEvaluationFailed, segment_evaluate, segment_evaluate_contacts
from segments.models import Segment
from segments.scheduler import contacts_reevaluate, segments_claim_due, segments_refresh
from segments.services import REFRESH_GRACE, segment_create, segment_update
from tests.factories import ContactFactory, CustomFieldFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(hours=1)
ON_PLAN = {"type": "field", "field": "plan", "op": "eq", "value": "pro"}
IN_FRANCE = {"type": "field", "field": "country", "op": "eq", "value": "FR"}
UNKNOWN_PLAN = "conditions.field: Unknown field 'plan'."


@pytest.fixture
def broken():
    """An evaluated segment whose field was deleted behind its back (not through the API,
    which refuses): it can no longer be evaluated."""
    CustomFieldFactory(key="plan", type="text")
    ContactFactory(country="FR", fields={"plan": "pro"})
    segment = segment_create(name="Pro", conditions=ON_PLAN, now=NOW)
    segment_evaluate(segment=segment, now=NOW)
    CustomField.objects.filter(key="plan").delete()
    return segment


@pytest.fixture
def failed(broken):
    with pytest.raises(SegmentEvaluationFailed):
        segment_evaluate(segment=broken, now=LATER)
    broken.refresh_from_db()
    return broken


def test_a_failing_full_evaluation_marks_the_segment_failed(broken):
    with pytest.raises(SegmentEvaluationFailed) as failure:
        segment_evaluate(segment=broken, now=LATER)

    assert failure.value.reason == UNKNOWN_PLAN
    broken.refresh_from_db()
    assert (broken.failed_at, broken.failure_reason) == (LATER, UNKNOWN_PLAN)
    assert (broken.size, broken.last_evaluated_at) == (1, NOW)  # the last good evaluation


def test_a_failing_incremental_evaluation_marks_the_segment_failed(broken):
    contact = ContactFactory()

    with pytest.raises(SegmentEvaluationFailed):
        segment_evaluate_contacts(segment=broken, contact_ids=[contact.pk], now=LATER)

    broken.refresh_from_db()
    assert (broken.failed_at, broken.failure_reason) == (LATER, UNKNOWN_PLAN)


def test_a_failure_the_conditions_do_not_explain_keeps_the_error(monkeypatch):
    segment = segment_create(name="France", conditions=IN_FRANCE, now=NOW)

    def explode(**kwargs):
        raise ValueError("bad value\nsecond line")

    monkeypatch.setattr(evaluation, "membership_diff_apply", explode)
    with pytest.raises(SegmentEvaluationFailed):
        segment_evaluate(segment=segment, now=NOW)

    segment.refresh_from_db()
    assert segment.failure_reason == "ValueError: bad value"


def test_a_transient_database_error_does_not_mark_the_segment_failed(monkeypatch):
    segment = segment_create(name="France", conditions=IN_FRANCE, now=NOW)

    def deadlock(**kwargs):
        raise OperationalError("deadlock detected")

    monkeypatch.setattr(evaluation, "membership_diff_apply", deadlock)
    with pytest.raises(OperationalError):
        segment_evaluate(segment=segment, now=NOW)

    segment.refresh_from_db()
    assert segment.failed_at is None


def test_failed_segments_are_not_claimed_when_due(failed):
    Segment.objects.filter(pk=failed.pk).update(next_evaluation_at=NOW)

    assert segments_claim_due(now=LATER) == []


def test_failed_segments_are_not_refreshed(failed):
    fine = segment_create(name="France", conditions=IN_FRANCE, now=NOW)

    results = segments_refresh(segments=Segment.objects.all(), now=LATER)

    assert set(results) == {fine.pk}


def test_failed_segments_are_not_evaluated_incrementally(failed):
    contact = ContactFactory(fields={"plan": "pro"})

    results = contacts_reevaluate(changes_by_contact={contact.pk: {"fields.plan"}}, now=LATER)

    assert results == {}


def test_an_incremental_failure_does_not_hold_the_other_segments_back(broken):
    fine = segment_create(name="France", conditions=IN_FRANCE, now=NOW)
    segment_evaluate(segment=fine, now=NOW)
    contact = ContactFactory(country="FR")

    results = contacts_reevaluate(
        changes_by_contact={contact.pk: {"fields.plan", "field:country"}}, now=LATER
    )

    assert set(results) == {fine.pk}
    assert results[fine.pk].entered == 1
    broken.refresh_from_db()
    assert broken.failed_at == LATER


def test_new_conditions_clear_the_failure_and_queue_an_evaluation(
    failed, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        segment_update(segment=failed, conditions=IN_FRANCE, now=LATER)

    failed.refresh_from_db()
    assert (failed.failed_at, failed.failure_reason) == (None, "")
    assert failed.next_evaluation_at == LATER + REFRESH_GRACE
    assert len(callbacks) == 1


def test_the_same_conditions_keep_the_failure(failed):
    segment_update(segment=failed, conditions=ON_PLAN, name="Pro users", now=LATER)

    failed.refresh_from_db()
    assert failed.failure_reason == UNKNOWN_PLAN


def test_a_successful_explicit_evaluation_clears_the_failure(failed):
    CustomFieldFactory(key="plan", type="text")  # what it reads is back

    result = segment_evaluate(segment=failed, now=LATER)

    assert result.size == 1
    failed.refresh_from_db()
    assert (failed.failed_at, failed.failure_reason) == (None, "")


# --- API -------------------------------------------------------------------------------------


def test_the_api_shows_the_failure(api, failed):
    body = api.get(f"/api/v1/segments/{failed.pk}").json()

    assert body["failed_at"] == "2026-11-24T10:00:00Z"
    assert body["failure_reason"] == UNKNOWN_PLAN


def test_a_segment_that_never_failed_shows_no_failure(api):
    segment = segment_create(name="France", conditions=IN_FRANCE)

    body = api.get(f"/api/v1/segments/{segment.pk}").json()

    assert (body["failed_at"], body["failure_reason"]) == (None, "")


def test_evaluate_with_wait_of_an_unevaluable_segment_is_409_with_the_reason(api, broken):
    response = api.post(f"/api/v1/segments/{broken.pk}/evaluate?wait=true")

    assert response.status_code == 409
    assert response.json()["failure_reason"] == UNKNOWN_PLAN
    assert UNKNOWN_PLAN in response.json()["detail"]
    broken.refresh_from_db()
    assert broken.failure_reason == UNKNOWN_PLAN


def test_evaluate_with_wait_that_succeeds_clears_the_failure(api, failed):
    CustomFieldFactory(key="plan", type="text")

    response = api.post(f"/api/v1/segments/{failed.pk}/evaluate?wait=true")

    assert response.status_code == 200
    assert response.json() == {"size": 1, "entered": 0, "left": 0}
    failed.refresh_from_db()
    assert failed.failed_at is None


def test_queued_evaluate_of_a_failed_segment_is_409(api, failed):
    response = api.post(f"/api/v1/segments/{failed.pk}/evaluate")

    assert response.status_code == 409
    assert response.json()["failure_reason"] == UNKNOWN_PLAN


def test_members_of_a_failed_segment_is_409(api, failed):
    response = api.get(f"/api/v1/segments/{failed.pk}/members")

    assert response.status_code == 409
    assert response.json()["failure_reason"] == UNKNOWN_PLAN


def test_explain_of_a_failed_segment_is_409(api, failed):
    contact = ContactFactory()

    response = api.get(f"/api/v1/segments/{failed.pk}/explain?contact={contact.pk}")

    assert response.status_code == 409
    assert response.json()["failure_reason"] == UNKNOWN_PLAN


def test_explain_of_an_unevaluable_segment_not_yet_failed_is_409(api, broken):
    contact = ContactFactory()

    response = api.get(f"/api/v1/segments/{broken.pk}/explain?contact={contact.pk}")

    assert response.status_code == 409
    assert response.json()["failure_reason"] == UNKNOWN_PLAN


def test_explain_after_the_field_came_back_with_another_type_is_409(api, broken):
    CustomFieldFactory(key="plan", type="number")
    contact = ContactFactory()

    response = api.get(f"/api/v1/segments/{broken.pk}/explain?contact={contact.pk}")

    assert response.status_code == 409
    assert response.json()["failure_reason"] == "conditions.value: Must be a number, not str."


@pytest.mark.postgresql
def test_a_broken_segment_outside_the_batch_keeps_the_batch_in_one_statement(broken, caplog):
    # given: a broken segment that the batch's changes do not concern (an old contact, so
    # not one every segment must catch up with)
    contact = ContactFactory(country="DE", created_at=NOW - dt.timedelta(days=30))
    fine = segment_create(name="France", conditions=IN_FRANCE, now=NOW)
    segment_evaluate(segment=fine, now=NOW)
    Contact.objects.filter(pk=contact.pk).update(country="FR")

    # when: a batch re-evaluates the country change
    results = contacts_reevaluate(changes_by_contact={contact.pk: {"field:country"}}, now=LATER)

    # then: the others were evaluated together (no fallback), the broken one left alone
    assert results[fine.pk].entered == 1
    assert "Batched evaluation" not in caplog.text
    broken.refresh_from_db()
    assert broken.failed_at is None
