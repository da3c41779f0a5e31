"""Celery tasks: thin wrappers that take ids and call billing.processing."""

from celery import shared_task
from django.utils import timezone

from billing.processing import deliveries_sweep, delivery_process


@shared_task
def process_delivery(delivery_id: int) -> None:
    delivery_process(delivery_id=delivery_id, now=timezone.now())


@shared_task
def sweep_deliveries() -> None:
    """Beat, every minute: lost wake-ups and deliveries whose customer is known by now."""
    deliveries_sweep(now=timezone.now())
