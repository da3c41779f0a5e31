"""Deliveries as rows: stored raw in the request's transaction (a replay of a provider event
id is a no-op), queued for processing on commit, requeued when they wait for a customer
Segflow has learned since, or reprocessed by hand after a failure."""

import datetime as dt
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Exists, OuterRef

from billing.models import BillingCustomer, DeliveryStatus, WebhookDelivery
from segflow.queue import enqueue_on_commit

PROCESS_TASK = "billing.tasks.process_delivery"


@dataclass(frozen=True, slots=True)
class StoredDelivery:
    delivery_id: int | None  # None for a replay
    duplicate: bool


def delivery_store(
    *, provider: str, provider_event_id: str, event_type: str, payload: dict, now: dt.datetime
) -> StoredDelivery:
    """INSERT ... ON CONFLICT DO NOTHING on (provider, provider_event_id): concurrent replays
    of one event store it once, whoever commits first."""
    payload_field = WebhookDelivery._meta.get_field("payload")
    table = WebhookDelivery._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (provider, provider_event_id, event_type, payload, "  # noqa: S608
            "received_at, status, error, attempts, customer_id) "
            "VALUES (%s, %s, %s, %s, %s, %s, '', 0, '') "
            "ON CONFLICT (provider, provider_event_id) DO NOTHING RETURNING id",
            [
                provider,
                provider_event_id,
                event_type,
                payload_field.get_db_prep_value(payload, connection),
                now,
                DeliveryStatus.PENDING,
            ],
        )
        row = cursor.fetchone()
        if row is None:
            return StoredDelivery(None, duplicate=True)
        enqueue_on_commit(PROCESS_TASK, row[0])
    return StoredDelivery(row[0], duplicate=False)


def delivery_reprocess(*, delivery: WebhookDelivery) -> bool:
    """Queue a failed (or waiting) delivery again; False when it is pending or processed."""
    with transaction.atomic():
        changed = WebhookDelivery.objects.filter(
            pk=delivery.pk, status__in=[DeliveryStatus.FAILED, DeliveryStatus.WAITING_CUSTOMER]
        ).update(status=DeliveryStatus.PENDING, error="")
        if changed:
            enqueue_on_commit(PROCESS_TASK, delivery.pk)
    return bool(changed)


def deliveries_release_waiting(*, provider: str, customer_ids: list[str] | None = None) -> int:
    """Queue the deliveries waiting for customers that are known now (all of the provider's
    known customers when `customer_ids` is None: the sweep's safety net)."""
    waiting = WebhookDelivery.objects.filter(
        provider=provider, status=DeliveryStatus.WAITING_CUSTOMER
    )
    if customer_ids is not None:
        waiting = waiting.filter(customer_id__in=customer_ids)
    known = BillingCustomer.objects.filter(provider=provider, customer_id=OuterRef("customer_id"))
    with transaction.atomic():
        ids = list(
            waiting.filter(Exists(known))
            .select_for_update(skip_locked=True)
            .order_by("received_at")
            .values_list("pk", flat=True)
        )
        WebhookDelivery.objects.filter(pk__in=ids).update(status=DeliveryStatus.PENDING)
        for delivery_id in ids:
            enqueue_on_commit(PROCESS_TASK, delivery_id)
    return len(ids)


def deliveries_stale_pending(*, older_than: dt.datetime, limit: int) -> list[int]:
    """Pending deliveries whose queued processing may have been lost (oldest first)."""
    return list(
        WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, received_at__lt=older_than)
        .order_by("received_at")
        .values_list("pk", flat=True)[:limit]
    )
