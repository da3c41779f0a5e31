"""Billing-provider webhooks (being built)."""

urlpatterns: list = []
