"""The condition language's vocabulary (docs/segments.md): operators per field type and the parsing
of the values they take. Shared by validation, the compiler, explain and the docs."""

import datetime as dt
import math

from django.utils.dateparse import parse_date

from contacts.field_types import parse_iso_datetime

TEXT_OPS = frozenset(
    {
        "eq",
        "neq",
        "contains",
        "not_contains",
        "starts_with",
        "ends_with",
        "in",
        "not_in",
        "is_set",
        "is_not_set",
    }
)
NUMBER_OPS = frozenset({"eq", "neq", "gt", "gte", "lt", "lte", "between", "is_set", "is_not_set"})
BOOLEAN_OPS = frozenset({"is_true", "is_false", "is_set", "is_not_set"})
DATE_OPS = frozenset(
    {
        "before",
        "after",
        "between",
        "within_last",
        "within_next",
        "older_than",
        "later_than",
        "is_set",
        "is_not_set",
    }
)
OPS_BY_TYPE: dict[str, frozenset[str]] = {
    "text": TEXT_OPS,
    "choice": TEXT_OPS,
    "number": NUMBER_OPS,
    "boolean": BOOLEAN_OPS,
    "date": DATE_OPS,
    "datetime": DATE_OPS,
}
RELATIVE_OPS = frozenset({"within_last", "within_next", "older_than", "later_than"})
NO_VALUE_OPS = frozenset({"is_set", "is_not_set", "is_true", "is_false"})
# Each of these is the exact complement of its positive twin, so it matches missing values.
NEGATED_OPS = {"neq": "eq", "not_in": "in", "not_contains": "contains", "is_not_set": "is_set"}

EVENT_OPS = frozenset({"performed", "not_performed"})
COUNT_OPS = frozenset({"gte", "lte", "eq"})
# Email condition op -> (event name, negated).
EMAIL_OPS: dict[str, tuple[str, bool]] = {
    "opened": ("email.opened", False),
    "clicked": ("email.clicked", False),
    "received": ("email.sent", False),
    "bounced": ("email.bounced", False),
    "unsubscribed": ("email.unsubscribed", False),
    "not_opened": ("email.opened", True),
    "not_clicked": ("email.clicked", True),
}
SEGMENT_OPS = frozenset({"in", "not_in"})
TAG_OPS = frozenset({"has", "has_not"})
SUBSCRIPTION_OPS = frozenset({"subscribed", "unsubscribed"})

# Event `where` filters: the op set depends on the JSON type of the value.
PROPERTY_TEXT_OPS = TEXT_OPS
PROPERTY_NUMBER_OPS = NUMBER_OPS
PROPERTY_BOOLEAN_OPS = frozenset({"eq", "neq"})

DURATION_UNITS = ("days", "hours", "minutes")
# ~100 years: far enough for any marketing window, near enough to stay inside datetime's range.
MAX_DURATION = {"days": 36_600, "hours": 36_600 * 24, "minutes": 36_600 * 24 * 60}


def is_number(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and (not isinstance(value, float) or math.isfinite(value))
    )


def parse_duration(value: object) -> dt.timedelta:
    """{"days"|"hours"|"minutes": N} -> timedelta; ValueError with a readable message."""
    if not isinstance(value, dict) or len(value) != 1:
        raise ValueError(
            'Must be an object with one of "days", "hours" or "minutes", e.g. {"days": 7}.'
        )
    ((unit, amount),) = value.items()
    if unit not in DURATION_UNITS:
        raise ValueError(f"Unknown unit '{unit}'. Use days, hours or minutes.")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
        raise ValueError("Must be a whole number of at least 0.")
    if amount > MAX_DURATION[unit]:
        raise ValueError(f"Must be at most {MAX_DURATION[unit]} {unit}.")
    return dt.timedelta(**{unit: amount})


def parse_absolute(value: object, *, field_type: str) -> dt.date | dt.datetime:
    """An absolute ISO 8601 bound. A plain date ("2026-01-31") means that UTC day; datetime
    fields also take a full date-time (naive means UTC), returned as an aware UTC datetime."""
    if not isinstance(value, str):
        raise ValueError("Must be an ISO 8601 date string, e.g. 2026-01-31.")
    text = value.strip()
    try:
        day = parse_date(text)
    except ValueError:
        day = None
    if day is not None:
        if day == dt.date.max:  # its end (the next day's start) is beyond what Python dates hold
            raise ValueError("Must be before 9999-12-31.")
        return day
    if field_type == "date":
        raise ValueError(f"'{value}' is not a date (YYYY-MM-DD).")
    moment = parse_iso_datetime(value)
    if moment is None:
        raise ValueError(
            f"'{value}' is not an ISO 8601 date or date-time (e.g. 2026-01-31T09:30:00Z)."
        )
    return moment


def day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)
