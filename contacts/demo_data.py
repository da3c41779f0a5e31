"""A believable demo dataset for `make run`: contacts with custom fields, tags, subscription
topics with some opt-outs, and ~90 days of events.

Deterministic for a given seed and `now`. Rows are written with bulk inserts, a few statements
per thousand rows, so seeding takes seconds on SQLite as on PostgreSQL. It bypasses the
`contacts_changed` signal on purpose: it runs before any segment exists, and thousands of
incremental re-evaluations of nothing would only fill the queue.
"""

import datetime as dt
import random
from dataclasses import dataclass

from django.db import transaction

from contacts.field_types import format_datetime, normalize_value
from contacts.ingest import NOT_ACTIVITY
from contacts.models import (
    Contact,
    ContactSubscription,
    ContactTag,
    CustomField,
    EmailStatus,
    Event,
    SubscriptionStatus,
    SubscriptionTopic,
    Tag,
)
from contacts.scoring import contacts_score_opening
from contacts.tags import tags_get_or_create

DEMO_EXTERNAL_ID_PREFIX = "demo-"
EVENT_SOURCE = "demo"
HISTORY_DAYS = 90
BATCH_SIZE = 1000

CUSTOM_FIELDS = [
    {"key": "plan", "label": "Plan", "type": "choice", "choices": ["free", "starter", "pro"]},
    {"key": "mrr", "label": "MRR", "type": "number", "description": "Monthly revenue, USD"},
    {"key": "trial_ends_at", "label": "Trial ends at", "type": "datetime"},
    {"key": "company", "label": "Company", "type": "text"},
    {"key": "onboarded", "label": "Onboarded", "type": "boolean"},
    {"key": "signup_date", "label": "Signup date", "type": "date"},
]
TOPICS = [
    {"key": "newsletter", "name": "Newsletter", "description": "The monthly newsletter."},
    {
        "key": "product_updates",
        "name": "Product updates",
        "description": "Release notes and new features.",
    },
]
# Share of contacts opted out of each topic (besides the unsubscribed ones, out of all).
TOPIC_OPT_OUT = {"newsletter": 0.15, "product_updates": 0.06}
TAGS = ["vip", "beta-tester", "webinar-2026", "churn-risk", "partner", "enterprise-lead"]

FIRST_NAMES = [
    "Ava",
    "Liam",
    "Emma",
    "Noah",
    "Olivia",
    "Lucas",
    "Mia",
    "Hugo",
    "Sofia",
    "Leo",
    "Chloe",
    "Arthur",
    "Zoe",
    "Louis",
    "Lea",
    "Jules",
    "Amelia",
    "Oscar",
    "Nina",
    "Ethan",
    "Ines",
    "Adam",
    "Clara",
    "Paul",
    "Alice",
    "Tom",
    "Maya",
    "Victor",
    "Rose",
    "Ben",
    "Lina",
    "Max",
    "Anna",
    "Felix",
    "Yuki",
    "Ravi",
    "Priya",
    "Kenji",
    "Lucia",
    "Mateo",
]
LAST_NAMES = [
    "Martin",
    "Smith",
    "Bernard",
    "Johnson",
    "Dubois",
    "Brown",
    "Muller",
    "Garcia",
    "Rossi",
    "Tanaka",
    "Silva",
    "Kowalski",
    "Nielsen",
    "Dupont",
    "Jones",
    "Schmidt",
    "Lopez",
    "Moreau",
    "Wilson",
    "Fischer",
    "Laurent",
    "Taylor",
    "Weber",
    "Suzuki",
    "Patel",
    "Sharma",
    "Costa",
    "Novak",
    "Janssen",
    "Lefebvre",
    "Clarke",
    "Becker",
    "Ricci",
    "Sato",
    "Khan",
    "Meyer",
]
COMPANIES = [
    "Acme Analytics",
    "Bluebird Labs",
    "Cobalt Retail",
    "Dune Logistics",
    "Evergreen Health",
    "Fjord Studio",
    "Granite Fintech",
    "Harbor Foods",
    "Indigo Travel",
    "Juniper Media",
    "Kite Robotics",
    "Lumen Energy",
    "Maple Education",
    "Nimbus Cloud",
    "Orbit Games",
    "Pine Legal",
]
LOCATIONS = [
    ("US", "America/New_York"),
    ("US", "America/Los_Angeles"),
    ("GB", "Europe/London"),
    ("FR", "Europe/Paris"),
    ("DE", "Europe/Berlin"),
    ("ES", "Europe/Madrid"),
    ("NL", "Europe/Amsterdam"),
    ("CA", "America/Toronto"),
    ("BR", "America/Sao_Paulo"),
    ("IN", "Asia/Kolkata"),
    ("JP", "Asia/Tokyo"),
    ("AU", "Australia/Sydney"),
    (None, None),
]
PAGES = ["/", "/pricing", "/features", "/docs/getting-started", "/blog/segments", "/changelog"]
FEATURES = ["segments", "flows", "csv_import", "api", "reports", "templates"]
CAMPAIGNS = ["welcome", "weekly-digest", "trial-ending", "feature-launch"]


@dataclass(frozen=True, slots=True)
class DemoSummary:
    contacts: int
    events: int
    custom_fields: int
    tags: int
    topics: int


def demo_data_exists() -> bool:
    return Contact.objects.filter(external_id__startswith=DEMO_EXTERNAL_ID_PREFIX).exists()


def demo_dataset_create(*, contacts: int, now: dt.datetime, seed: int = 2026) -> DemoSummary:
    """Create `contacts` demo contacts and their fields, tags, subscriptions and events."""
    rng = random.Random(seed)
    with transaction.atomic():
        definitions = _custom_fields_ensure()
        topics = _topics_ensure()
        tags = _tags_ensure()
        people = [_person(rng, index, now) for index in range(contacts)]
        for person in people:
            person.contact.fields = {
                key: normalize_value(definitions[key], value)
                for key, value in person.fields.items()
            }
        rows = Contact.objects.bulk_create(
            [person.contact for person in people], batch_size=BATCH_SIZE
        )
        contacts_score_opening(
            scores={contact.pk: contact.lead_score for contact in rows}, reason="demo data"
        )
        events = []
        tag_links = []
        subscriptions = []
        for person, contact in zip(people, rows, strict=True):
            for event in person.events:
                event.contact_id = contact.pk
            events.extend(person.events)
            tag_links.extend(ContactTag(contact=contact, tag=tags[name]) for name in person.tags)
            subscriptions.extend(
                ContactSubscription(
                    contact=contact, topic=topics[key], status=status, source=EVENT_SOURCE
                )
                for key, status in person.subscriptions.items()
            )
        Event.objects.bulk_create(events, batch_size=BATCH_SIZE)
        ContactTag.objects.bulk_create(tag_links, batch_size=BATCH_SIZE)
        ContactSubscription.objects.bulk_create(subscriptions, batch_size=BATCH_SIZE)
    return DemoSummary(
        contacts=len(rows),
        events=len(events),
        custom_fields=len(definitions),
        tags=len(tags),
        topics=len(topics),
    )


def _custom_fields_ensure() -> dict[str, CustomField]:
    definitions = {}
    for spec in CUSTOM_FIELDS:
        field, _ = CustomField.objects.get_or_create(key=spec["key"], defaults=spec)
        definitions[field.key] = field
    return definitions


def _topics_ensure() -> dict[str, SubscriptionTopic]:
    return {
        spec["key"]: SubscriptionTopic.objects.get_or_create(key=spec["key"], defaults=spec)[0]
        for spec in TOPICS
    }


def _tags_ensure() -> dict[str, Tag]:
    return {tag.name.lower(): tag for tag in tags_get_or_create(TAGS)}


@dataclass(slots=True)
class _Person:
    contact: Contact
    fields: dict
    tags: list[str]
    subscriptions: dict[str, str]
    events: list[Event]


def _person(rng: random.Random, index: int, now: dt.datetime) -> _Person:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    country, timezone = rng.choice(LOCATIONS)
    created_at = now - dt.timedelta(days=rng.uniform(1, 365))
    plan = rng.choices(["free", "starter", "pro"], weights=[60, 25, 15])[0]
    # Engagement drives activity, lead score and who opts out.
    engagement = rng.betavariate(2, 3) * {"free": 0.7, "starter": 1.0, "pro": 1.4}[plan]
    status = rng.choices(
        [EmailStatus.ACTIVE, EmailStatus.UNSUBSCRIBED, EmailStatus.BOUNCED, EmailStatus.COMPLAINED],
        weights=[94, 3, 2, 1],
    )[0]

    fields: dict[str, object] = {
        "plan": plan,
        "mrr": {"free": 0, "starter": rng.choice([29, 49]), "pro": rng.randrange(99, 500, 50)}[
            plan
        ],
        "onboarded": rng.random() < 0.3 + engagement * 0.5,
        "signup_date": created_at.date().isoformat(),
    }
    if rng.random() < 0.85:
        fields["company"] = rng.choice(COMPANIES)
    if plan == "free" and rng.random() < 0.35:
        trial_end = now + dt.timedelta(days=rng.uniform(-10, 21))
        fields["trial_ends_at"] = format_datetime(trial_end.replace(microsecond=0))

    since = max(created_at, now - dt.timedelta(days=HISTORY_DAYS))
    events = _events(rng, engagement, plan, since=since, now=now)
    events = [e for e in events if e.occurred_at <= now]
    activity = [e.occurred_at for e in events if e.name not in NOT_ACTIVITY]
    purchases = sum(1 for e in events if e.name == "purchase")

    tags = [name for name in TAGS if rng.random() < 0.08]
    if plan == "pro" and rng.random() < 0.5:
        tags.append("vip")
    subscriptions = {
        key: SubscriptionStatus.UNSUBSCRIBED
        for key, share in TOPIC_OPT_OUT.items()
        if status == EmailStatus.UNSUBSCRIBED or rng.random() < share * (1.5 - engagement)
    }

    contact = Contact(
        email=f"{first}.{last}.{index + 1}@example.com".lower(),
        first_name=first,
        last_name=last,
        country=country,
        timezone=timezone,
        external_id=f"{DEMO_EXTERNAL_ID_PREFIX}{index + 1:06d}",
        email_status=status,
        lead_score=min(100, len(activity) + purchases * 10),
        last_activity_at=max(activity, default=None),
        created_at=created_at,
    )
    return _Person(contact, fields, sorted(set(tags)), subscriptions, events)


def _events(
    rng: random.Random, engagement: float, plan: str, *, since: dt.datetime, now: dt.datetime
) -> list[Event]:
    """Sessions spread over the history window: a login, pages, features, now and then a
    purchase; emails arrive on their own rhythm."""
    span = (now - since).total_seconds()
    events: list[Event] = []

    def at(offset_seconds: float) -> dt.datetime:
        return (since + dt.timedelta(seconds=offset_seconds)).replace(microsecond=0)

    for _ in range(int(rng.expovariate(1) * engagement * 12)):
        start = rng.uniform(0, span)
        events.append(_event("login", at(start), {"method": rng.choice(["password", "google"])}))
        for step in range(rng.randint(0, 4)):
            url = rng.choice(PAGES)
            events.append(_event("page.viewed", at(start + 30 * (step + 1)), {"url": url}))
        if rng.random() < 0.5:
            feature = rng.choice(FEATURES)
            events.append(_event("feature.used", at(start + 200), {"feature": feature}))
        if plan != "free" and rng.random() < 0.08:
            amount = rng.choice([29, 49, 99, 199, 499])
            props = {"amount": amount, "currency": "USD", "plan": plan}
            events.append(_event("purchase", at(start + 300), props))
    for _ in range(int(span // (7 * 86400))):
        campaign = rng.choice(CAMPAIGNS)
        sent = rng.uniform(0, span)
        events.append(_event("email.sent", at(sent), {"campaign": campaign}))
        if rng.random() < 0.2 + engagement * 0.4:
            events.append(_event("email.opened", at(sent + 3600), {"campaign": campaign}))
            if rng.random() < 0.3:
                url = rng.choice(PAGES)
                props = {"campaign": campaign, "url": url}
                events.append(_event("email.clicked", at(sent + 3700), props))
    return events


def _event(name: str, occurred_at: dt.datetime, properties: dict) -> Event:
    return Event(
        name=name,
        properties=properties,
        occurred_at=occurred_at,
        received_at=occurred_at,
        source=EVENT_SOURCE,
    )
