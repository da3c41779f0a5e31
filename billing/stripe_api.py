"""Optional Stripe API look-ups (STRIPE_API_KEY): the email of a customer no event has
introduced yet, and a product's name when a price has no nickname."""

from functools import lru_cache

import stripe
from django.conf import settings


def stripe_customer_email(customer_id: str) -> str | None:
    """None when the customer has no email or was deleted; API errors propagate (the delivery
    fails and can be reprocessed)."""
    customer = stripe.Customer.retrieve(customer_id, api_key=settings.STRIPE_API_KEY)
    if customer.get("deleted"):
        return None
    email = customer.get("email")
    return email.strip() if isinstance(email, str) and email.strip() else None


@lru_cache(maxsize=256)
def stripe_product_name(product_id: str) -> str | None:
    product = stripe.Product.retrieve(product_id, api_key=settings.STRIPE_API_KEY)
    return product.get("name") or None
