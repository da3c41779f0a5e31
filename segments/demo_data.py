"""Example segments for the demo dataset (contacts.demo_data): one per kind of condition a
marketer reaches for first, so `make run` shows segments with members straight away."""

from segments.models import Segment
from segments.services import segment_create

DEMO_SEGMENTS = [
    {
        "name": "Active pro customers",
        "description": "On the pro plan and logged in at least 3 times in the last 30 days.",
        "conditions": {
            "all": [
                {"type": "field", "field": "plan", "op": "eq", "value": "pro"},
                {
                    "type": "event",
                    "event": "login",
                    "op": "performed",
                    "count": {"op": "gte", "value": 3},
                    "within": {"days": 30},
                },
            ]
        },
    },
    {
        "name": "Trial ends this week",
        "description": "Free users whose trial ends in the next 7 days.",
        "conditions": {
            "type": "field",
            "field": "trial_ends_at",
            "op": "within_next",
            "value": {"days": 7},
        },
    },
    {
        "name": "Looked at pricing, did not buy",
        "description": "Viewed /pricing in the last 14 days, no purchase in the last 30.",
        "conditions": {
            "all": [
                {
                    "type": "event",
                    "event": "page.viewed",
                    "op": "performed",
                    "within": {"days": 14},
                    "where": [{"property": "url", "op": "contains", "value": "/pricing"}],
                },
                {
                    "type": "event",
                    "event": "purchase",
                    "op": "not_performed",
                    "within": {"days": 30},
                },
            ]
        },
    },
    {
        "name": "Quiet VIPs",
        "description": "Tagged vip, no activity for 14 days or opened no email in 30.",
        "conditions": {
            "all": [
                {"type": "tag", "op": "has", "tag": "vip"},
                {
                    "any": [
                        {
                            "type": "field",
                            "field": "last_activity_at",
                            "op": "older_than",
                            "value": {"days": 14},
                        },
                        {"type": "email", "op": "not_opened", "within": {"days": 30}},
                    ]
                },
            ]
        },
    },
    {
        "name": "Newsletter audience",
        "description": "Subscribed to the newsletter, email address still reachable.",
        "conditions": {
            "all": [
                {"type": "subscription", "op": "subscribed", "topic": "newsletter"},
                {"type": "field", "field": "email_status", "op": "eq", "value": "active"},
            ]
        },
    },
]


def demo_segments_create() -> list[Segment]:
    """Create the example segments; each one's first evaluation is queued for the worker."""
    return [segment_create(**spec) for spec in DEMO_SEGMENTS]
