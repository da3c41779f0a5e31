"""Billing-provider webhooks, mounted under /webhooks/ (segflow/urls.py)."""

from django.urls import path

from billing import views

urlpatterns = [
    path("stripe", views.stripe_webhook, name="billing-stripe-webhook"),
    path("chargebee", views.chargebee_webhook, name="billing-chargebee-webhook"),
    path("recurly", views.recurly_webhook, name="billing-recurly-webhook"),
]
