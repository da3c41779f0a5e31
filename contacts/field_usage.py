"""Who reads a custom field. Segment conditions (and later flows) name fields by key; deleting
such a field, or changing its type, would leave them unevaluable. The apps that read fields
answer `custom_field_readers_requested` so contacts need not know them."""

from django.dispatch import Signal

from segflow.errors import InvalidInput

# Receivers get `key` and return a list of descriptions ("segment 'Pro users' (#3)").
custom_field_readers_requested = Signal()


def custom_field_readers(*, key: str) -> list[str]:
    responses = custom_field_readers_requested.send(sender=None, key=key)
    return sorted(reader for _, readers in responses for reader in readers or [])


def custom_field_check_unused(*, key: str, path: str, change: str) -> None:
    """Raise InvalidInput (at `path`) when something reads the field; `change` says what the
    client tried ("delete it", "change its type").

    Call it inside the transaction that makes the change, before it: readers lock against
    concurrent saves of what reads the field (segments.graph_lock), so a reader saved
    meanwhile is either seen here or refused when it validates.
    """
    readers = custom_field_readers(key=key)
    if readers:
        raise InvalidInput.single(
            path,
            f"{', '.join(readers)} read this field: change their conditions before you {change}.",
        )
