"""Billing-provider deliveries and their effects (being built)."""
