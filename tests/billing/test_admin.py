import pytest

from billing.models import DeliveryStatus, WebhookDelivery
from tests.factories import BillingSubscriptionFactory, WebhookDeliveryFactory

pytestmark = pytest.mark.django_db
URL = "/admin/billing/webhookdelivery/"


def test_deliveries_are_listed_with_status_and_error(admin_client):
    WebhookDeliveryFactory(status=DeliveryStatus.FAILED, error="NotMappable: no customer")

    response = admin_client.get(URL, {"status__exact": "failed"})

    assert response.status_code == 200
    assert b"NotMappable: no customer" in response.content


def test_reprocess_action_queues_failed_deliveries_and_skips_processed_ones(
    admin_client, django_capture_on_commit_callbacks
):
    failed = WebhookDeliveryFactory(status=DeliveryStatus.FAILED, error="boom")
    done = WebhookDeliveryFactory(status=DeliveryStatus.PROCESSED)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            URL, {"action": "reprocess", "_selected_action": [failed.pk, done.pk]}, follow=True
        )

    assert response.status_code == 200
    assert b"1 queued again, 1 skipped" in response.content
    failed.refresh_from_db()
    # queued and processed by the (eager) task: a customer.created of f@example.com
    assert (failed.status, failed.error, failed.attempts) == (DeliveryStatus.PROCESSED, "", 1)
    assert WebhookDelivery.objects.get(pk=done.pk).attempts == 0


def test_delivery_page_and_subscription_list_open(admin_client):
    delivery = WebhookDeliveryFactory()
    BillingSubscriptionFactory()

    assert admin_client.get(f"{URL}{delivery.pk}/change/").status_code == 200
    assert admin_client.get("/admin/billing/billingsubscription/").status_code == 200
