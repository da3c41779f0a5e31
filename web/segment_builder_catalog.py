"""What the segment builder offers to pick from: fields with their types, segments, topics,
tags, the event names seen in the data and the property keys of recent events of a name."""

from django.db import connection

from contacts.builtins import BUILTIN_FIELD_LABELS, BUILTIN_FIELD_TYPES
from contacts.models import CustomField, EmailStatus, Event, SubscriptionTopic, Tag
from segments.models import Segment

MAX_EVENT_NAMES = 500
MAX_TAGS = 500
RECENT_EVENTS = 200
MAX_PROPERTIES = 100


def builder_catalog(*, segment_id: int | None) -> dict:
    """The pickers' options, in the JSON the builder's script reads (5 queries)."""
    fields = [
        {
            "key": key,
            "label": BUILTIN_FIELD_LABELS[key],
            "type": kind,
            "choices": list(EmailStatus.values) if key == "email_status" else [],
            "builtin": True,
        }
        for key, kind in BUILTIN_FIELD_TYPES.items()
    ]
    for custom in CustomField.objects.order_by("label", "key"):
        fields.append(
            {
                "key": custom.key,
                "label": custom.label or custom.key,
                "type": custom.type,
                "choices": [str(choice) for choice in custom.choices or []],
                "builtin": False,
            }
        )
    segments = Segment.objects.order_by("name", "pk").values_list("pk", "name")
    return {
        "fields": fields,
        "segments": [{"id": pk, "name": name} for pk, name in segments if pk != segment_id],
        "topics": [
            {"key": key, "name": name}
            for key, name in SubscriptionTopic.objects.order_by("name").values_list("key", "name")
        ],
        "tags": list(Tag.objects.order_by("name").values_list("name", flat=True)[:MAX_TAGS]),
    }


_DISTINCT_NAMES_SKIP_SCAN = """
WITH RECURSIVE names(name) AS (
    (SELECT name FROM {table} ORDER BY name LIMIT 1)
    UNION ALL
    SELECT (SELECT e.name FROM {table} e WHERE e.name > names.name ORDER BY e.name LIMIT 1)
    FROM names WHERE names.name IS NOT NULL
)
SELECT name FROM names WHERE name IS NOT NULL LIMIT %s
"""


def event_names_seen() -> list[str]:
    """Distinct event names in the data, sorted. On PostgreSQL a skip scan of the
    (name, occurred_at) index: one index probe per name, not a pass over every event."""
    if connection.vendor == "postgresql":
        sql = _DISTINCT_NAMES_SKIP_SCAN.format(
            table=connection.ops.quote_name(Event._meta.db_table)
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [MAX_EVENT_NAMES])
            return [row[0] for row in cursor.fetchall()]
    names = Event.objects.order_by("name").values_list("name", flat=True).distinct()
    return list(names[:MAX_EVENT_NAMES])


def _json_kind(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "text"
    return "other"


def event_property_keys(*, name: str) -> list[dict]:
    """Top-level property keys of the latest events of `name`, most frequent first, each
    with the JSON type its values had and a few example values."""
    recent = (
        Event.objects.filter(name=name)
        .order_by("-occurred_at")
        .values_list("properties", flat=True)[:RECENT_EVENTS]
    )
    seen: dict[str, dict] = {}
    for properties in recent:
        if not isinstance(properties, dict):
            continue
        for key, value in properties.items():
            entry = seen.setdefault(key, {"key": key, "count": 0, "kinds": {}, "examples": []})
            entry["count"] += 1
            kind = _json_kind(value)
            entry["kinds"][kind] = entry["kinds"].get(kind, 0) + 1
            text = str(value)
            examples = entry["examples"]
            if kind != "other" and len(text) <= 80 and text not in examples and len(examples) < 5:
                examples.append(text)
    ranked = sorted(seen.values(), key=lambda entry: (-entry["count"], entry["key"]))
    return [
        {
            "key": entry["key"],
            "type": max(entry["kinds"], key=entry["kinds"].get),
            "examples": entry["examples"],
        }
        for entry in ranked[:MAX_PROPERTIES]
    ]
