"""A score change is a field change for segments: rules pushing a contact over 80 make it
enter "lead_score gte 80" through the normal path (ingest -> scoring worker -> pending contact
changes -> incremental evaluation -> transitions feed), which starts the lead-score recipe."""

import datetime as dt

import pytest
from django.utils import timezone

from automation.flow_services import flow_activate
from automation.models import Enrollment, Flow
from automation.recipes import LEAD_SCORE, recipes_install
from contacts.ingest import events_ingest
from contacts.models import Contact
from scoring.event_scoring import pending_score_events_process
from scoring.models import ScoringRule
from segments.evaluation import segment_evaluate
from segments.models import Segment, SegmentMembership, SegmentTransition
from segments.scheduler import contact_changes_process
from tests.factories import ContactFactory
from tests.scoring.conftest import event, event_rule


@pytest.mark.django_db(transaction=True)  # the transitions feed reads committed rows
def test_rules_pushing_a_score_over_80_enter_the_segment_and_start_the_recipe(settings):
    settings.SALES_WEBHOOK_URL = "http://127.0.0.1:9/sales"
    settings.FLOW_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    ScoringRule.objects.all().delete()
    event_rule("demo.requested", 50)
    recipes_install()
    flow = flow_activate(flow=Flow.objects.get(name=LEAD_SCORE), now=timezone.now())
    segment = Segment.objects.get(name="Sales-ready leads")
    lead, cold = ContactFactory.create_batch(2)
    segment_evaluate(segment=segment, now=timezone.now())
    at = timezone.now() - dt.timedelta(seconds=1)

    # when: stored events; the worker steps run as their tasks do (eagerly here, at commit)
    events_ingest(
        events=[event("demo.requested", lead.email, occurred_at=at)] * 2
        + [event("demo.requested", cold.email, occurred_at=at)],
        now=timezone.now(),
    )
    pending_score_events_process(now=timezone.now())
    contact_changes_process(now=timezone.now())

    # then
    scores = dict(Contact.objects.values_list("pk", "lead_score"))
    assert (scores[lead.pk], scores[cold.pk]) == (100, 50)
    current = SegmentMembership.objects.filter(segment=segment, left_at__isnull=True)
    assert list(current.values_list("contact_id", flat=True)) == [lead.pk]
    entered = SegmentTransition.objects.filter(segment=segment, kind="entered")
    assert list(entered.values_list("contact_id", flat=True)) == [lead.pk]
    assert list(Enrollment.objects.filter(flow=flow).values_list("contact_id", flat=True)) == [
        lead.pk
    ]
