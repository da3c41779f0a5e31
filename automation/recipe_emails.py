"""The email templates of the flow recipes (automation.recipes): subject, HTML and plain text,
in the sandboxed Jinja2 of automation.rendering (context of design §5)."""

_FOOTER_HTML = """
<p style="color:#888;font-size:12px">You receive this because you have an account with us.
<a href="{{ unsubscribe_url }}">Unsubscribe</a></p>"""
_FOOTER_TEXT = """
--
Unsubscribe: {{ unsubscribe_url }}"""

TRIAL_REMINDER = {
    "name": "Recipe: trial ends tomorrow",
    "subject": "{{ contact.first_name | default('Hi') }}, your trial ends tomorrow",
    "html": """<p>Hi {{ contact.first_name | default("there") }},</p>
<p>Your free trial ends within a day. Pick a plan now to keep your data, your settings and
everything you have set up so far; it takes a minute.</p>
<p>Questions about which plan fits? Just reply to this email.</p>"""
    + _FOOTER_HTML,
    "text": """Hi {{ contact.first_name | default("there") }},

Your free trial ends within a day. Pick a plan now to keep your data, your settings and
everything you have set up so far; it takes a minute.

Questions about which plan fits? Just reply to this email.
"""
    + _FOOTER_TEXT,
}

REENGAGE_FIRST = {
    "name": "Recipe: we miss you",
    "subject": "{{ contact.first_name | default('Hi') }}, your trial is waiting for you",
    "html": """<p>Hi {{ contact.first_name | default("there") }},</p>
<p>It has been a while since you last logged in. Your trial is still running: here are
three things most people try first — import a list of contacts, build a segment, and send
yourself a test email from a flow.</p>
<p>Five minutes is enough to see whether it fits.</p>"""
    + _FOOTER_HTML,
    "text": """Hi {{ contact.first_name | default("there") }},

It has been a while since you last logged in. Your trial is still running: here are three
things most people try first: import a list of contacts, build a segment, and send yourself
a test email from a flow.

Five minutes is enough to see whether it fits.
"""
    + _FOOTER_TEXT,
}

REENGAGE_SECOND = {
    "name": "Recipe: can we help?",
    "subject": "Can we help, {{ contact.first_name | default('there') }}?",
    "html": """<p>Hi {{ contact.first_name | default("there") }},</p>
<p>We have not heard from you. If something got in the way — a missing feature, a
confusing step — reply and tell us: a person reads every answer.</p>"""
    + _FOOTER_HTML,
    "text": """Hi {{ contact.first_name | default("there") }},

We have not heard from you. If something got in the way (a missing feature, a confusing
step), reply and tell us: a person reads every answer.
"""
    + _FOOTER_TEXT,
}

# The cart.updated event carries the cart: {"items": [{"name", "quantity", "price"}, ...]},
# optionally "currency", "total" and "cart_url". The line totals and the total are computed
# here when the event does not give one.
_CART_SETUP = """{% set items = event.properties["items"] %}
{%- set currency = event.properties.currency | default("") %}
{%- set ns = namespace(total=0) %}
{%- for item in items %}
{%- set ns.total = ns.total + item.price * item.quantity | default(1) %}
{%- endfor %}
{%- set total = event.properties.total | default(ns.total) -%}"""

ABANDONED_CART = {
    "name": "Recipe: your cart is waiting",
    "subject": """{% set n = event.properties["items"] | length %}
{{- contact.first_name | default("Hi") }}, you left {{ n }} item{{ "s" if n != 1 else "" }}
in your cart""",
    "html": _CART_SETUP
    + """
<p>Hi {{ contact.first_name | default("there") }},</p>
<p>You left {{ "this item" if items | length == 1 else "these items" }} in your cart:</p>
<table cellpadding="6" style="border-collapse:collapse">
  <tr><th align="left">Item</th><th align="right">Qty</th><th align="right">Amount</th></tr>
  {%- for item in items %}
  {%- set amount = item.price * item.quantity | default(1) %}
  <tr>
    <td>{{ item.name }}</td>
    <td align="right">{{ item.quantity | default(1) }}</td>
    <td align="right">{{ "%.2f" | format(amount) }} {{ currency }}</td>
  </tr>
  {%- endfor %}
  <tr><td colspan="2"><strong>Total</strong></td>
      <td align="right"><strong>{{ "%.2f" | format(total) }} {{ currency }}</strong></td></tr>
</table>
{%- if event.properties.cart_url is defined %}
<p><a href="{{ event.properties.cart_url }}">Complete your order</a></p>
{%- endif %}
<p>Your cart is saved, so you can pick up where you left off.</p>"""
    + _FOOTER_HTML,
    "text": _CART_SETUP
    + """
Hi {{ contact.first_name | default("there") }},

You left {{ "this item" if items | length == 1 else "these items" }} in your cart:
{% for item in items %}
{%- set amount = item.price * item.quantity | default(1) %}
  - {{ item.name }} x {{ item.quantity | default(1) }}: {{ "%.2f" | format(amount) }} {{ currency }}
{%- endfor %}

  Total: {{ "%.2f" | format(total) }} {{ currency }}
{% if event.properties.cart_url is defined %}
Complete your order: {{ event.properties.cart_url }}
{% endif %}
Your cart is saved, so you can pick up where you left off.
"""
    + _FOOTER_TEXT,
}

# The sales notification: a JSON body a Slack-style incoming webhook shows as a message
# ("text"), with the contact's details for any other receiver.
SALES_WEBHOOK_BODY = """
{%- set text = "Sales-ready lead: " ~ contact.email ~ " (lead score " ~ contact.lead_score ~ ")" -%}
{
  "text": {{ text | tojson }},
  "contact": {
    "id": {{ contact.id }},
    "email": {{ contact.email | tojson }},
    "first_name": {{ contact.first_name | default("") | tojson }},
    "last_name": {{ contact.last_name | default("") | tojson }},
    "lead_score": {{ contact.lead_score }}
  },
  "flow": {{ flow.name | tojson }}
}"""
