"""Durations and offsets of the flow JSON: {"days"|"hours"|"minutes"|"seconds": N}."""

import datetime as dt
from collections.abc import Mapping

UNITS = ("days", "hours", "minutes", "seconds")


def duration_of(value: Mapping) -> dt.timedelta:
    return dt.timedelta(**{unit: value[unit] for unit in UNITS if value.get(unit)})


def offset_parts(value: Mapping | None) -> tuple[dt.timedelta, dt.timedelta]:
    """An offset as (calendar days, exact time): days move the wall clock in the contact's
    time zone, hours and shorter move the instant. Signed units ({"days": -1}) or
    {"before": {...}} / {"after": {...}}."""
    if not value:
        return dt.timedelta(), dt.timedelta()
    sign = 1
    if "before" in value or "after" in value:
        sign = -1 if "before" in value else 1
        value = value.get("before") or value.get("after") or {}
    days = dt.timedelta(days=sign * (value.get("days") or 0))
    exact = {unit: sign * value[unit] for unit in UNITS[1:] if value.get(unit)}
    return days, dt.timedelta(**exact)
