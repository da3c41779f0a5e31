# ruff: noqa: E501 (the template is HTML as a marketer writes it)
"""The abandoned-cart email of the flows bench: a realistic marketing template (~4 KB of HTML
once rendered: header, greeting by first name, a loop over the cart's items with prices, a
button, a footer with the unsubscribe link) and the cart events that feed it."""

import random

SUBJECT = "{{ contact.first_name | default('Hi') }}, you left {{ event.properties['items'] | length }} items in your cart"

HTML = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Your cart is waiting</title>
  <style>
    body { margin: 0; padding: 0; background: #f4f5f7; font-family: Helvetica, Arial, sans-serif; }
    .wrap { max-width: 600px; margin: 0 auto; background: #ffffff; }
    .header { padding: 24px 32px; background: #1f2937; color: #ffffff; font-size: 20px; }
    .content { padding: 32px; color: #111827; font-size: 16px; line-height: 1.5; }
    table.items { width: 100%; border-collapse: collapse; margin: 24px 0; }
    table.items td { padding: 12px 8px; border-bottom: 1px solid #e5e7eb; vertical-align: top; }
    .price { text-align: right; white-space: nowrap; }
    .button { display: inline-block; padding: 14px 28px; background: #2563eb; color: #ffffff;
              text-decoration: none; border-radius: 6px; font-weight: bold; }
    .footer { padding: 24px 32px; color: #6b7280; font-size: 12px; background: #f9fafb; }
  </style>
</head>
<body>
  <div class="wrap">
    <div class="header">Segflow Outdoor Supply</div>
    <div class="content">
      <p>Hi {{ contact.first_name | default("there") }},</p>
      <p>You left a few things in your cart. They are still waiting for you, but we cannot
      hold them forever: popular sizes sell out fast this time of year.</p>
      <table class="items" role="presentation">
        {%- for item in event.properties["items"] %}
        <tr>
          <td><img src="https://shop.example.com/img/{{ item.sku }}.jpg" width="64" height="64"
                   alt="{{ item.name }}"></td>
          <td><strong><a href="https://shop.example.com/p/{{ item.sku }}?utm_source=email">{{ item.name }}</a></strong><br>
              <span style="color:#6b7280">SKU {{ item.sku }} &middot; quantity {{ item.quantity }}</span></td>
          <td class="price">{{ "%.2f" | format(item.price * item.quantity) }} {{ event.properties.currency }}</td>
        </tr>
        {%- endfor %}
        <tr>
          <td></td><td><strong>Total</strong></td>
          <td class="price"><strong>{{ "%.2f" | format(event.properties.total) }} {{ event.properties.currency }}</strong></td>
        </tr>
      </table>
      <p style="text-align:center">
        <a class="button" href="https://shop.example.com/cart/{{ event.properties.cart_id }}?utm_source=email&amp;utm_campaign=abandoned_cart">Return to my cart</a>
      </p>
      <p>Questions about sizing or delivery? Just reply to this email: a real person on our
      team reads every message and answers within one business day.</p>
      <p>Free returns for 60 days, free shipping on orders over 50.00 {{ event.properties.currency }}.</p>
      <p>See you soon,<br>The Segflow Outdoor team</p>
    </div>
    <div class="footer">
      <p>You receive this email because you started an order at shop.example.com with
      {{ contact.email }}.</p>
      <p>Segflow Outdoor Supply, 12 Harbour Street, Portsmouth PO1 3AA, United Kingdom</p>
      <p><a href="{{ unsubscribe_url }}" style="color:#6b7280">Unsubscribe</a> &middot;
         <a href="{{ preferences_url }}" style="color:#6b7280">Email preferences</a></p>
    </div>
  </div>
</body>
</html>
"""

TEXT = """Hi {{ contact.first_name | default("there") }},

You left a few things in your cart:
{%- for item in event.properties["items"] %}
- {{ item.name }} (x{{ item.quantity }}): {{ "%.2f" | format(item.price * item.quantity) }} {{ event.properties.currency }}
{%- endfor %}
Total: {{ "%.2f" | format(event.properties.total) }} {{ event.properties.currency }}

Return to your cart: https://shop.example.com/cart/{{ event.properties.cart_id }}

Unsubscribe: {{ unsubscribe_url }}
"""

PRODUCTS = [
    ("SKU-10421", "Trail running shoes", 129.0),
    ("SKU-20877", "Merino base layer", 74.5),
    ("SKU-31005", "Waterproof shell jacket", 249.0),
    ("SKU-40330", "Insulated bottle 750 ml", 32.9),
    ("SKU-51272", "Trekking poles (pair)", 89.0),
    ("SKU-60019", "Headlamp 400 lm", 45.0),
    ("SKU-70542", "Wool hiking socks", 19.9),
    ("SKU-80316", "Daypack 22 l", 99.0),
]
FIRST_NAMES = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken"]


def cart_properties(rng: random.Random, cart_id: int) -> dict:
    """A cart.updated event's properties: 3 to 5 items, their prices and the total."""
    items = []
    for sku, name, price in rng.sample(PRODUCTS, rng.randint(3, 5)):
        items.append({"sku": sku, "name": name, "price": price, "quantity": rng.randint(1, 3)})
    total = sum(item["price"] * item["quantity"] for item in items)
    return {"cart_id": f"c{cart_id}", "currency": "EUR", "items": items, "total": total}
