"""Writes to subscription topics, with their rules: a key is a slug that never changes, a name
is one line, and a double opt-in topic is opt-out by default (otherwise contacts who never
confirmed would count as subscribed).

A change of a topic's default, or its deletion, changes what "subscribed" means for many
contacts at once: the contacts whose status it changes are announced (contacts.signals), so
segments on subscriptions follow, in chunks of ANNOUNCE_CHUNK ids.
"""

import re
from collections.abc import Iterable, Mapping

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef

from contacts.builtins import check_no_control_chars, check_storable
from contacts.models import Contact, ContactSubscription, SubscriptionStatus, SubscriptionTopic
from contacts.signals import notify_contacts_changed
from segflow.errors import ErrorCollector, InvalidInput

TOPIC_KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
KEY_RULE = "Use 1 to 64 lower-case letters, digits, '-' and '_', starting with a letter or a digit."
OPT_IN, OPT_OUT = "opt_in", "opt_out"
DEFAULTS = (OPT_IN, OPT_OUT)
EDITABLE = frozenset({"key", "name", "description", "default", "double_opt_in"})
NAME_MAX = SubscriptionTopic._meta.get_field("name").max_length
DESCRIPTION_MAX = 2000
ANNOUNCE_CHUNK = 10_000


def topic_default(topic: SubscriptionTopic) -> str:
    return OPT_IN if topic.default_opt_in else OPT_OUT


def _check(values: Mapping[str, object], *, errors: ErrorCollector) -> None:
    """Add an error per broken rule of the given values (any subset of EDITABLE)."""
    if "key" in values:
        key = values["key"]
        if not isinstance(key, str) or not TOPIC_KEY_PATTERN.fullmatch(key):
            errors.add("key", KEY_RULE)
    for name, limit, multiline in (
        ("name", NAME_MAX, False),
        ("description", DESCRIPTION_MAX, True),
    ):
        if name not in values:
            continue
        text = values[name]
        if not isinstance(text, str):
            errors.add(name, "Must be a string.")
            continue
        if name == "name" and not text.strip():
            errors.add(name, "A topic needs a name.")
        elif len(text) > limit:
            errors.add(name, f"At most {limit} characters.")
        else:
            try:
                check_no_control_chars(text, multiline=multiline)
                check_storable(text)
            except ValueError as exc:
                errors.add(name, str(exc))
    if "default" in values and values["default"] not in DEFAULTS:
        errors.add("default", f'Must be "{OPT_IN}" or "{OPT_OUT}".')
    if "double_opt_in" in values and not isinstance(values["double_opt_in"], bool):
        errors.add("double_opt_in", "Must be true or false.")


def _check_double_opt_in(*, default: object, double_opt_in: object, errors) -> None:
    if double_opt_in is True and default == OPT_IN:
        errors.add(
            "double_opt_in",
            'A double opt-in topic must be "opt_out" by default: contacts count as subscribed '
            "only once they confirm.",
        )


def topic_create(
    *,
    key: str,
    name: str,
    description: str = "",
    default: str = OPT_IN,
    double_opt_in: bool = False,
) -> SubscriptionTopic:
    """A new topic. No contact has a choice yet, so its default decides; contacts are
    announced when that default is opt-in (segments on the topic now match them)."""
    values = {
        "key": key,
        "name": name,
        "description": description,
        "default": default,
        "double_opt_in": double_opt_in,
    }
    errors = ErrorCollector()
    _check(values, errors=errors)
    _check_double_opt_in(default=default, double_opt_in=double_opt_in, errors=errors)
    errors.raise_if_any()
    try:
        with transaction.atomic():
            topic = SubscriptionTopic.objects.create(
                key=key,
                name=name.strip(),
                description=description,
                default_opt_in=default == OPT_IN,
                double_opt_in=double_opt_in,
            )
            if topic.default_opt_in:
                _announce(Contact.objects.values_list("pk", flat=True).order_by("pk"))
    except IntegrityError:
        raise InvalidInput.single("key", "A topic with this key already exists.") from None
    return topic


def topic_update(*, topic: SubscriptionTopic, data: Mapping[str, object]) -> SubscriptionTopic:
    """Change name, description, default and double opt-in. `key` may be given, equal to the
    topic's (a definition copied from a response). A changed default announces the contacts
    without a choice of their own: their status changed with it."""
    unknown = set(data) - EDITABLE
    if unknown:
        raise TypeError(f"Not editable: {', '.join(sorted(unknown))}")
    errors = ErrorCollector()
    _check(data, errors=errors)
    if "key" in data and data["key"] != topic.key and not errors:
        errors.add("key", "A topic's key cannot change.")
    _check_double_opt_in(
        default=data.get("default", topic_default(topic)),
        double_opt_in=data.get("double_opt_in", topic.double_opt_in),
        errors=errors,
    )
    errors.raise_if_any()
    with transaction.atomic():
        topic = SubscriptionTopic.objects.select_for_update().get(pk=topic.pk)
        old_default = topic.default_opt_in
        if "name" in data:
            topic.name = str(data["name"]).strip()
        if "description" in data:
            topic.description = str(data["description"])
        if "default" in data:
            topic.default_opt_in = data["default"] == OPT_IN
        if "double_opt_in" in data:
            topic.double_opt_in = bool(data["double_opt_in"])
        topic.save()
        if topic.default_opt_in != old_default:
            chose = ContactSubscription.objects.filter(contact_id=OuterRef("pk"), topic=topic)
            without_choice = Contact.objects.filter(~Exists(chose)).order_by("pk")
            _announce(without_choice.values_list("pk", flat=True))
    return topic


def topic_delete(*, topic: SubscriptionTopic) -> None:
    """Delete the topic and every contact's choice for it. Sends naming it skip everyone
    (no such topic) and segment conditions on it match no one as subscribed: the contacts
    that were subscribed are announced."""
    with transaction.atomic():
        topic = SubscriptionTopic.objects.select_for_update().get(pk=topic.pk)
        choices = ContactSubscription.objects.filter(topic=topic)
        if topic.default_opt_in:
            not_in = choices.exclude(status=SubscriptionStatus.SUBSCRIBED)
            was_subscribed = Contact.objects.exclude(
                pk__in=not_in.values("contact_id")
            ).values_list("pk", flat=True)
        else:
            was_subscribed = choices.filter(status=SubscriptionStatus.SUBSCRIBED).values_list(
                "contact_id", flat=True
            )
        ids = list(was_subscribed.order_by())
        topic.delete()
        _announce(ids)


def _announce(contact_ids: Iterable[int]) -> None:
    chunk: list[int] = []
    for contact_id in contact_ids.iterator() if hasattr(contact_ids, "iterator") else contact_ids:
        chunk.append(contact_id)
        if len(chunk) >= ANNOUNCE_CHUNK:
            notify_contacts_changed(chunk, {"subscriptions"})
            chunk = []
    notify_contacts_changed(chunk, {"subscriptions"})
