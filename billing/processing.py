"""Processing one stored delivery: map the provider's event (billing.<provider>_events), find
or create the contact, apply the subscription state when it is newer than the stored one,
record the billing.* events once per provider event, and rewrite the contact's billing fields.

Invariants:
- A delivery is processed by one worker at a time: it is claimed with SELECT ... FOR UPDATE
  SKIP LOCKED, and only while pending; everything it writes commits with its new status.
  Calls to a provider's API happen before the claim, outside any transaction.
- State only moves forward: a subscription's stored state carries the provider's timestamp
  (`state_at`) and an older event never overwrites it (an equal one does: same moment).
- billing.* events have idempotency_key "<provider event id>:<name>" under source = provider,
  so a provider event records each of its events once, however often it is processed.
- Nothing is dropped: an event naming a customer Segflow cannot map yet waits
  (waiting_customer) and is queued again when that customer is learned (or by the sweep);
  a failure keeps the delivery with its error, to reprocess.
"""

import datetime as dt
import logging
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction

from billing.changes import BillingChange, NotMappable, transition_events
from billing.chargebee_events import chargebee_change
from billing.deliveries import deliveries_release_waiting, deliveries_stale_pending
from billing.fields import billing_field_values, billing_fields_ensure
from billing.models import (
    BillingCustomer,
    BillingSubscription,
    DeliveryStatus,
    Provider,
    WebhookDelivery,
)
from billing.recurly_events import recurly_change
from billing.stripe_api import stripe_customer_email
from billing.stripe_events import stripe_change
from contacts.builtins import normalize_email
from contacts.field_types import normalize_custom_fields
from contacts.ingest import EventInput, events_ingest
from contacts.models import Contact, CustomField
from contacts.services import contact_update, contact_upsert

logger = logging.getLogger(__name__)

MAPPERS = {
    Provider.STRIPE: stripe_change,
    Provider.CHARGEBEE: chargebee_change,
    Provider.RECURLY: recurly_change,
}
# Providers whose payloads do not say every change: the stored state is the "before" of
# the rest.
PREVIOUS_FROM_STORE = frozenset({Provider.CHARGEBEE, Provider.RECURLY})
# A pending delivery this old has lost its queued task: the sweep processes it.
STALE_PENDING = dt.timedelta(seconds=30)
SWEEP_LIMIT = 500


def delivery_process(*, delivery_id: int, now: dt.datetime) -> str | None:
    """Process one pending delivery; its new status, or None when it was not pending or
    another worker holds it."""
    row = (
        WebhookDelivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING)
        .values("provider", "payload")
        .first()
    )
    if row is None:
        return None
    # Mapping may call the provider's API (Recurly, Stripe look-ups): before any transaction
    # or lock, so a slow provider holds no database resources.
    try:
        change, mapping_error = _map(row["provider"], row["payload"]), None
    except Exception as exc:  # kept on the row below, to reprocess
        change, mapping_error = None, exc
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True)
            .filter(pk=delivery_id, status=DeliveryStatus.PENDING)
            .first()
        )
        if delivery is None:
            return None
        delivery.attempts += 1
        try:
            if mapping_error is not None:
                raise mapping_error
            with transaction.atomic():
                status, customer_id = _apply(delivery, change)
        except Exception as exc:  # any failure is kept on the row, to reprocess
            logger.warning("Billing delivery %s failed", delivery.pk, exc_info=True)
            delivery.status, delivery.error = DeliveryStatus.FAILED, _describe(exc)
        else:
            delivery.status, delivery.error = status, ""
            delivery.customer_id = customer_id or ""
            delivery.processed_at = now if status == DeliveryStatus.PROCESSED else None
        delivery.save(update_fields=["status", "error", "attempts", "customer_id", "processed_at"])
        return delivery.status


def _map(provider: str, payload: dict) -> BillingChange | None:
    """The provider's event as a BillingChange (None: a type Segflow does not use), with the
    customer's email read from Stripe's API when Segflow cannot map the customer otherwise."""
    change = MAPPERS[provider](payload)
    if (
        change is not None
        and provider == Provider.STRIPE
        and settings.STRIPE_API_KEY
        and change.customer_id
        and change.email is None
        and not BillingCustomer.objects.filter(
            provider=provider, customer_id=change.customer_id
        ).exists()
    ):
        change.email = stripe_customer_email(change.customer_id)
    return change


def deliveries_sweep(*, now: dt.datetime) -> int:
    """Beat: queue waiting deliveries whose customer is known by now, and process pending
    ones whose queued task was lost. Returns how many pending ones it processed."""
    for provider in Provider.values:
        deliveries_release_waiting(provider=provider)
    stale = deliveries_stale_pending(older_than=now - STALE_PENDING, limit=SWEEP_LIMIT)
    for delivery_id in stale:
        delivery_process(delivery_id=delivery_id, now=now)
    return len(stale)


def _apply(delivery: WebhookDelivery, change: BillingChange | None) -> tuple[str, str | None]:
    provider = delivery.provider
    if change is None:
        return DeliveryStatus.PROCESSED, None  # an event type Segflow does not use
    if change.customer_id is not None and not 0 < len(change.customer_id) <= 255:
        raise NotMappable("The customer id is empty or longer than 255 characters.")
    contact = _contact_for(provider, change)
    if contact is None:
        if not change.customer_id:
            raise NotMappable("The event names no customer (neither an id nor an email).")
        return DeliveryStatus.WAITING_CUSTOMER, change.customer_id
    definitions = billing_fields_ensure(provider=provider)
    transitions, converted = _apply_subscription(provider, change, contact)
    if change.subscription is not None or change.customer_id:
        _write_fields(contact, provider, change.customer_id or "", definitions)
    _record_events(delivery, change, contact, transitions, converted)
    return DeliveryStatus.PROCESSED, change.customer_id


def _contact_for(provider: str, change: BillingChange) -> Contact | None:
    if change.customer_id:
        known = (
            BillingCustomer.objects.filter(provider=provider, customer_id=change.customer_id)
            .select_related("contact")
            .first()
        )
        if known is not None:
            return known.contact
    email = change.email
    if email is None:
        return None
    try:
        email = normalize_email(email)
    except ValueError as exc:
        raise NotMappable(f"The customer's email {email!r} is not valid: {exc}") from None
    contact = Contact.objects.filter(email=email).first()
    if contact is None:
        contact, _ = contact_upsert(values={"email": email})
    if change.customer_id:
        _customer_learn(provider, change.customer_id, contact, email)
    return contact


def _customer_learn(provider: str, customer_id: str, contact: Contact, email: str) -> None:
    try:
        with transaction.atomic():
            BillingCustomer.objects.create(
                provider=provider, customer_id=customer_id, contact=contact, email=email
            )
    except IntegrityError:
        return  # learned already (or concurrently): its waiting deliveries were released
    deliveries_release_waiting(provider=provider, customer_ids=[customer_id])


def _apply_subscription(
    provider: str, change: BillingChange, contact: Contact
) -> tuple[list[str], bool]:
    """Store the event's subscription state if it is the newest; the transition events it
    means, and whether the customer converted already (for trial_will_end)."""
    state = change.subscription
    if state is None:
        return [], change.converted_hint
    locked = BillingSubscription.objects.select_for_update()
    key = {"provider": provider, "subscription_id": state.subscription_id}
    values = {
        "customer_id": change.customer_id or "",
        "contact": contact,
        "status": state.status,
        "plan": state.plan[:255],
        "mrr": state.mrr,
        "currency": state.currency[:3],
        "trial_ends_at": state.trial_ends_at,
        "started_at": state.started_at,
        "canceled_at": state.canceled_at,
        "cancel_at_period_end": state.cancel_at_period_end,
        "state_at": state.at,
    }
    row, created = locked.filter(**key).first(), False
    if row is None:
        try:
            with transaction.atomic():
                row, created = BillingSubscription.objects.create(**key, **values), True
        except IntegrityError:  # a concurrent event created it: compare with that one
            row = locked.get(**key)
    newer = created or state.at >= row.state_at
    converted = change.converted_hint or (
        not newer and row.status in ("active", "past_due", "unpaid")
    )
    previous = change.previous
    from_store: list[str] = []
    if previous is not None and provider in PREVIOUS_FROM_STORE and newer and not created:
        # What the provider's event types do not say (a plan change's direction, entering
        # dunning) is read against the stored state: only when this event is the newest.
        if previous.mrr is None:
            previous.mrr = row.mrr
        if previous.status is None and provider == Provider.RECURLY:
            # Recurly's state is read from its API, so it only moves forward: a status
            # change seen against the stored one happens once (a trial's conversion).
            previous.status = row.status
        if state.status == "past_due" and row.status != "past_due":
            from_store.append("past_due")
    if newer and not created:
        for name, value in values.items():
            setattr(row, name, value)
        row.save()
    transitions = transition_events(previous, state) if previous is not None else []
    return transitions + from_store, converted


def _write_fields(
    contact: Contact, provider: str, customer_id: str, definitions: dict[str, CustomField]
) -> None:
    # The contact's lock first: a concurrent writer of its other subscription commits before
    # the subscriptions are read below.
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    values = billing_field_values(contact_id=contact.pk, provider=provider, customer_id=customer_id)
    cleaned, errors = normalize_custom_fields(values, definitions=definitions)
    if errors:
        raise NotMappable(f"Billing field values do not fit the fields: {errors}")
    changes = {
        key: value
        for key, value in cleaned.items()
        if (value is None and key in contact.fields)
        or (value is not None and contact.fields.get(key) != value)
    }
    if changes:
        contact_update(contact=contact, values={}, fields=changes)


def _record_events(
    delivery: WebhookDelivery,
    change: BillingChange,
    contact: Contact,
    transitions: list[str],
    converted: bool,
) -> None:
    names: dict[str, dict] = {}
    for event in change.events:
        names.setdefault(event.name, event.properties)
    for name in transitions:
        names.setdefault(name, {})
    if not names:
        return
    base = {
        "provider": delivery.provider,
        "provider_event_id": delivery.provider_event_id,
        "customer_id": change.customer_id,
    }
    state = change.subscription
    if state is not None:
        base |= {
            "subscription_id": state.subscription_id,
            "plan": state.plan,
            "mrr": state.mrr,
            "currency": state.currency,
            "status": state.status,
        }
    identity = (
        {"external_id": contact.external_id} if contact.external_id else {"email": contact.email}
    )
    inputs = []
    for name, properties in names.items():
        extra = {"converted": converted} if name == "trial_will_end" else {}
        if name == "trial_will_end" and state is not None and state.trial_ends_at:
            extra["trial_ends_at"] = state.trial_ends_at.isoformat()
        inputs.append(
            EventInput(
                name=f"billing.{name}",
                occurred_at=change.occurred_at,
                properties=_json_properties(base | properties | extra),
                idempotency_key=f"{delivery.provider_event_id}:{name}",
                **identity,
            )
        )
    events_ingest(events=inputs, source=delivery.provider)


def _json_properties(properties: dict) -> dict:
    out = {}
    for key, value in properties.items():
        if value is None or value == "":
            continue
        if isinstance(value, Decimal):
            value = int(value) if value == value.to_integral_value() else float(value)
        out[key] = value
    return out


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]
