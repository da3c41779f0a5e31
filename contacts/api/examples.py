"""Request examples shown in the API docs (and sent by the schema fuzz test as explicit cases)."""

from drf_spectacular.utils import OpenApiExample

CONTACT_UPSERT = OpenApiExample(
    "A contact with a custom field and a tag",
    value={
        "email": "ada@example.com",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "country": "GB",
        "timezone": "Europe/London",
        "external_id": "user-42",
        "fields": {"plan": "pro"},
        "tags": ["newsletter"],
    },
    request_only=True,
)

CONTACT_PATCH = OpenApiExample(
    "Change the plan, remove a value, replace the tags",
    value={"first_name": "Ada", "fields": {"plan": "free", "trial_ends_at": None}, "tags": ["vip"]},
    request_only=True,
)

EVENT = {
    "email": "ada@example.com",
    "name": "purchase",
    "properties": {"amount": 49.0, "currency": "EUR"},
    "occurred_at": "2026-11-24T09:30:00Z",
    "idempotency_key": "order-1001",
}

EVENT_CREATE = OpenApiExample("A purchase", value=EVENT, request_only=True)

EVENT_BATCH = OpenApiExample(
    "Two events",
    value={
        "events": [
            EVENT,
            {"external_id": "user-42", "name": "login", "properties": {"device": "ios"}},
        ]
    },
    request_only=True,
)

FIELD_CREATE = OpenApiExample(
    "A choice field",
    value={"key": "plan", "label": "Plan", "type": "choice", "choices": ["free", "pro"]},
    request_only=True,
)
