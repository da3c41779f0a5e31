"""Answers contacts.field_usage: which segments' conditions read a custom field."""

from segments.graph_lock import segment_graph_lock
from segments.models import Segment


def segments_reading_field(sender, *, key: str, **kwargs) -> list[str]:
    """Asked inside the transaction that deletes or retypes the field: the graph lock makes a
    concurrent segment save that reads the field either commit first (and be found here) or
    wait for this transaction (and find the field gone when it validates)."""
    segment_graph_lock()
    # dependency_keys is a JSON list; `__contains` on it is PostgreSQL-only, and there are a
    # few hundred segments at most, so filter in Python (SQLite is the embedded default).
    wanted = f"fields.{key}"
    segments = Segment.objects.only("pk", "name", "dependency_keys").order_by("pk")
    return [f"Segment {s.name!r} (#{s.pk})" for s in segments if wanted in s.dependency_keys]
