import datetime as dt

import factory
from django.utils import timezone

from automation.models import (
    EmailLayout,
    EmailTemplate,
    Enrollment,
    Flow,
    FlowVersion,
    Message,
    PendingFlowEvent,
    SendingPolicy,
    StepRun,
)
from billing.models import BillingCustomer, BillingSubscription, WebhookDelivery
from contacts.api_keys import api_key_create
from contacts.models import (
    ApiKey,
    Contact,
    ContactImport,
    ContactSubscription,
    ContactTag,
    CustomField,
    Event,
    SubscriptionTopic,
    Tag,
)
from scoring.models import (
    ConditionRuleHit,
    PendingScoreEvents,
    ScoreDecay,
    ScoreLedgerEntry,
    ScoringRule,
)
from segments.models import (
    PendingContactChange,
    Segment,
    SegmentDailyStats,
    SegmentMembership,
    SegmentTransition,
    TransitionConsumer,
)


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    country = "FR"
    timezone = "Europe/Paris"


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag

    name = factory.Sequence(lambda n: f"tag-{n}")


class ContactTagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContactTag

    contact = factory.SubFactory(ContactFactory)
    tag = factory.SubFactory(TagFactory)


class CustomFieldFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomField
        django_get_or_create = ["key"]

    key = factory.Sequence(lambda n: f"field_{n}")
    label = factory.LazyAttribute(lambda o: o.key.replace("_", " ").title())
    type = "text"


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Event

    contact = factory.SubFactory(ContactFactory)
    name = "login"
    occurred_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(minutes=5))


class SubscriptionTopicFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SubscriptionTopic
        django_get_or_create = ["key"]

    key = factory.Sequence(lambda n: f"topic_{n}")
    name = factory.LazyAttribute(lambda o: o.key.title())


class ContactSubscriptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContactSubscription

    contact = factory.SubFactory(ContactFactory)
    topic = factory.SubFactory(SubscriptionTopicFactory)
    status = "subscribed"


class ApiKeyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ApiKey

    @classmethod
    def _create(cls, model_class, *args, name="factory", **kwargs):
        api_key, _ = api_key_create(name=name)
        return api_key


class ContactImportFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContactImport

    filename = "contacts.csv"
    csv_text = "email,first_name\nann@example.com,Ann\n"


class SegmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Segment

    name = factory.Sequence(lambda n: f"Segment {n}")
    conditions = factory.LazyFunction(lambda: {"all": []})


class SegmentMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SegmentMembership

    segment = factory.SubFactory(SegmentFactory)
    contact = factory.SubFactory(ContactFactory)
    entered_at = factory.LazyFunction(timezone.now)


class SegmentTransitionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SegmentTransition

    segment = factory.SubFactory(SegmentFactory)
    contact = factory.SubFactory(ContactFactory)
    kind = "entered"
    occurred_at = factory.LazyFunction(timezone.now)


class SegmentDailyStatsFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SegmentDailyStats

    segment = factory.SubFactory(SegmentFactory)
    day = factory.LazyFunction(lambda: timezone.now().date())


class PendingContactChangeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PendingContactChange

    contact_ids = factory.LazyFunction(lambda: [ContactFactory().pk])
    contact_count = factory.LazyAttribute(lambda row: len(row.contact_ids))
    changes = factory.LazyFunction(lambda: ["field:country"])


class TransitionConsumerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TransitionConsumer

    name = factory.Sequence(lambda n: f"consumer-{n}")


# --- automation -------------------------------------------------------------------------------
SIMPLE_FLOW_DEFINITION = {
    "trigger": {"type": "event", "event": "signed_up"},
    "reentry": "never",
    "steps": [{"id": "s1", "type": "wait", "duration": {"hours": 1}}],
}


class FlowFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Flow

    name = factory.Sequence(lambda n: f"Flow {n}")
    definition = factory.LazyFunction(lambda: dict(SIMPLE_FLOW_DEFINITION))


class FlowVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FlowVersion

    flow = factory.SubFactory(FlowFactory)
    number = factory.Sequence(lambda n: n + 1)
    definition = factory.LazyAttribute(lambda row: row.flow.definition)
    trigger_type = "event"
    trigger_event = "signed_up"


class EnrollmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Enrollment

    version = factory.SubFactory(FlowVersionFactory)
    flow = factory.LazyAttribute(lambda row: row.version.flow)
    contact = factory.SubFactory(ContactFactory)
    step_id = "s1"
    next_run_at = factory.LazyFunction(timezone.now)
    trigger_key = factory.Sequence(lambda n: f"test:{n}")


class StepRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StepRun

    enrollment = factory.SubFactory(EnrollmentFactory)
    step_id = "s1"
    status = "done"


class EmailTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EmailTemplate

    name = factory.Sequence(lambda n: f"Template {n}")
    subject = "Hello {{ contact.first_name | default('there') }}"
    html = "<p>Hi {{ contact.first_name | default('there') }}</p>"


class EmailLayoutFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EmailLayout

    name = factory.Sequence(lambda n: f"Layout {n}")
    mjml = (
        "<mjml><mj-body><mj-section><mj-column><mj-raw>{{ content }}</mj-raw>"
        "</mj-column></mj-section></mj-body></mjml>"
    )


class SendingPolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SendingPolicy

    frequency_cap_count = 3
    frequency_cap_hours = 24


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    contact = factory.SubFactory(ContactFactory)
    template = factory.SubFactory(EmailTemplateFactory)
    idempotency_key = factory.Sequence(lambda n: f"test:{n}")
    status = "sent"
    to_email = factory.LazyAttribute(lambda row: row.contact.email)


class PendingFlowEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PendingFlowEvent

    event_id = factory.LazyAttribute(lambda row: EventFactory().pk)
    contact_id = factory.LazyAttribute(lambda row: ContactFactory().pk)
    name = "signed_up"


# --- billing -------------------------------------------------------------------------------------


class WebhookDeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WebhookDelivery

    provider = "stripe"
    provider_event_id = factory.Sequence(lambda n: f"evt_test_{n}")
    event_type = "customer.created"
    payload = factory.LazyAttribute(
        lambda row: {
            "id": row.provider_event_id,
            "object": "event",
            "type": row.event_type,
            "created": 1790000000,
            "data": {"object": {"id": "cus_test", "object": "customer", "email": "f@example.com"}},
        }
    )


class BillingCustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BillingCustomer

    provider = "stripe"
    customer_id = factory.Sequence(lambda n: f"cus_test_{n}")
    contact = factory.SubFactory(ContactFactory)
    email = factory.LazyAttribute(lambda row: row.contact.email)


class BillingSubscriptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BillingSubscription

    provider = "stripe"
    subscription_id = factory.Sequence(lambda n: f"sub_test_{n}")
    customer_id = "cus_test"
    contact = factory.SubFactory(ContactFactory)
    status = "active"
    state_at = factory.LazyFunction(timezone.now)


# --- scoring -------------------------------------------------------------------------------------


class ScoringRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ScoringRule

    name = factory.Sequence(lambda n: f"Rule {n}")
    kind = "event"
    event = "demo.requested"
    points = 5


class ScoreLedgerEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ScoreLedgerEntry

    contact = factory.SubFactory(ContactFactory)
    delta = 5
    reason = "manual"


class ConditionRuleHitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ConditionRuleHit

    rule = factory.SubFactory(
        ScoringRuleFactory,
        kind="condition",
        event="",
        condition={"type": "field", "field": "country", "op": "eq", "value": "FR"},
    )
    contact = factory.SubFactory(ContactFactory)
    points = 5


class PendingScoreEventsFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PendingScoreEvents

    event_ids = factory.LazyAttribute(lambda row: [EventFactory().pk])


class ScoreDecayFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ScoreDecay

    active = True
