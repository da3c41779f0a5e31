import datetime as dt
import io
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from contacts.demo_data import HISTORY_DAYS, demo_dataset_create
from contacts.field_types import field_definitions, normalize_custom_fields
from contacts.ingest import NOT_ACTIVITY
from contacts.models import ApiKey, Contact, ContactSubscription, CustomField, Event
from segments.demo_data import DEMO_SEGMENTS
from segments.models import Segment
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)


def seed(*args: str) -> str:
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def test_creates_the_requested_number_of_contacts():
    seed("--contacts", "40")

    assert Contact.objects.count() == 40


def test_demo_scores_are_their_ledgers_sums():
    from django.db.models import Sum

    from scoring.models import ScoreLedgerEntry

    seed("--contacts", "40")

    ledger = dict(
        ScoreLedgerEntry.objects.values("contact_id")
        .annotate(total=Sum("delta"))
        .values_list("contact_id", "total")
    )
    scores = dict(Contact.objects.values_list("pk", "lead_score"))
    assert any(scores.values())
    assert {pk: ledger.get(pk, 0) for pk in scores} == scores


def test_creates_the_demo_custom_fields_with_their_types():
    demo_dataset_create(contacts=5, now=NOW)

    types = dict(CustomField.objects.values_list("key", "type"))
    assert types == {
        "plan": "choice",
        "mrr": "number",
        "trial_ends_at": "datetime",
        "company": "text",
        "onboarded": "boolean",
        "signup_date": "date",
    }
    assert CustomField.objects.get(key="plan").choices == ["free", "starter", "pro"]


def test_custom_values_are_stored_normalised():
    demo_dataset_create(contacts=200, now=NOW)

    definitions = field_definitions()
    for values in Contact.objects.values_list("fields", flat=True):
        cleaned, errors = normalize_custom_fields(values, definitions=definitions)
        assert errors == {}
        assert cleaned == values


def test_every_plan_and_some_trials_appear():
    demo_dataset_create(contacts=300, now=NOW)

    plans = {c.fields["plan"] for c in Contact.objects.all()}
    assert plans == {"free", "starter", "pro"}
    assert Contact.objects.filter(fields__has_key="trial_ends_at").exists()


def test_events_fall_within_the_history_window():
    demo_dataset_create(contacts=100, now=NOW)

    oldest = NOW - dt.timedelta(days=HISTORY_DAYS)
    assert not Event.objects.filter(occurred_at__lt=oldest).exists()
    assert not Event.objects.filter(occurred_at__gt=NOW).exists()
    names = set(Event.objects.values_list("name", flat=True).distinct())
    assert {"login", "page.viewed", "feature.used", "purchase", "email.opened"} <= names


def test_page_views_carry_a_url_and_purchases_an_amount():
    demo_dataset_create(contacts=300, now=NOW)

    assert not Event.objects.filter(name="page.viewed", properties__url__isnull=True).exists()
    amounts = Event.objects.filter(name="purchase").values_list("properties__amount", flat=True)
    assert amounts and all(amount > 0 for amount in amounts)


def test_last_activity_is_the_latest_activity_event():
    demo_dataset_create(contacts=60, now=NOW)

    for contact in Contact.objects.all():
        activity = Event.objects.filter(contact=contact).exclude(name__in=NOT_ACTIVITY)
        latest = activity.order_by("-occurred_at").values_list("occurred_at", flat=True).first()
        assert contact.last_activity_at == latest


def test_some_contacts_opt_out_of_each_topic():
    demo_dataset_create(contacts=300, now=NOW)

    opted_out = ContactSubscription.objects.filter(status="unsubscribed")
    assert set(opted_out.values_list("topic__key", flat=True)) == {"newsletter", "product_updates"}
    assert opted_out.values("contact").distinct().count() < 300


def test_unsubscribed_contacts_are_opted_out_of_every_topic():
    demo_dataset_create(contacts=300, now=NOW)

    for contact in Contact.objects.filter(email_status="unsubscribed"):
        statuses = set(contact.subscriptions.values_list("topic__key", "status"))
        assert statuses == {("newsletter", "unsubscribed"), ("product_updates", "unsubscribed")}


def test_same_seed_and_time_give_the_same_data():
    def snapshot():
        return list(
            Contact.objects.order_by("external_id").values_list(
                "email", "fields", "lead_score", "country"
            )
        ), Event.objects.count()

    demo_dataset_create(contacts=50, now=NOW, seed=7)
    first = snapshot()
    Contact.objects.all().delete()
    demo_dataset_create(contacts=50, now=NOW, seed=7)

    assert snapshot() == first


def test_statement_count_does_not_grow_with_contacts():
    # Bulk inserts: a handful of statements whatever the size (within one batch). A first
    # run creates the field, topic and tag definitions, which later runs only read.
    demo_dataset_create(contacts=1, now=NOW)
    Contact.objects.all().delete()
    with CaptureQueriesContext(connection) as small:
        demo_dataset_create(contacts=5, now=NOW)
    Contact.objects.all().delete()
    with CaptureQueriesContext(connection) as large:
        demo_dataset_create(contacts=25, now=NOW)

    assert len(large) == len(small) == 16  # + the scores' ledger rows


def test_prints_a_working_admin_login():
    output = seed("--contacts", "3")

    password = re.search(r"user: demo\s+password: (\S+)", output).group(1)
    user = get_user_model().objects.get(username="demo")
    assert user.is_staff and user.is_superuser
    assert user.check_password(password)


def test_prints_a_working_api_key_with_a_curl_example():
    output = seed("--contacts", "3")

    key = re.search(r"API key\s+(sf_\S+)", output).group(1)
    assert f'curl -H "Authorization: Bearer {key}"' in output
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    response = client.get("/api/v1/contacts")
    assert response.status_code == 200
    assert response.json()["count"] == 3


def test_if_empty_with_existing_contacts_changes_nothing():
    ContactFactory()

    output = seed("--if-empty", "--contacts", "3")

    assert Contact.objects.count() == 1
    assert not CustomField.objects.exists()
    assert not ApiKey.objects.exists()
    assert not get_user_model().objects.exists()
    assert not Segment.objects.exists()
    assert "nothing seeded" in output
    assert "create_api_key" in output


def test_if_empty_on_an_empty_database_seeds():
    seed("--if-empty", "--contacts", "4")

    assert Contact.objects.count() == 4


def test_seeding_twice_is_refused():
    seed("--contacts", "2")

    with pytest.raises(CommandError, match="already there"):
        seed("--contacts", "2")
    assert Contact.objects.count() == 2


def test_seeded_contacts_appear_in_the_api_with_their_fields():
    output = seed("--contacts", "3")
    key = re.search(r"API key\s+(sf_\S+)", output).group(1)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")

    body = client.get("/api/v1/contacts").json()

    assert {"plan", "mrr", "onboarded", "signup_date"} <= set(body["results"][0]["fields"])


def test_seeds_the_example_segments():
    seed("--contacts", "3")

    names = set(Segment.objects.values_list("name", flat=True))
    assert {segment["name"] for segment in DEMO_SEGMENTS} <= names  # + the flow recipes' ones
