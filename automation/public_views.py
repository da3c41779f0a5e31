"""Public pages reached from sent emails by signed links (design §8): no login, no session.

/u/<token>: GET shows a confirmation (mail scanners follow links, so a GET changes nothing);
POST unsubscribes at once, both the RFC 8058 one-click POST a mailbox provider sends
(`List-Unsubscribe=One-Click`) and the page's button. /p/<token>: the preference center.
A token that does not verify, or whose contact is gone, is a 404.
"""

from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from automation.tokens import LinkToken, preferences_token_read, unsubscribe_token_read
from automation.unsubscribe import contact_preferences_save, contact_unsubscribe
from contacts.models import Contact, EmailStatus, SubscriptionTopic
from contacts.selectors import contact_topic_subscribed

ONE_CLICK_BODY = "List-Unsubscribe=One-Click"


def _masked(email: str | None) -> str:
    """a***@example.com: enough to recognise one's address on a page anyone with the link
    can open."""
    if not email or "@" not in email:
        return ""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def _contact_of(token: LinkToken | None) -> Contact | None:
    """The token's contact; None for a test send's link (no contact). 404 when it does not
    verify or the contact is gone."""
    if token is None:
        raise Http404("Unknown link.")
    if token.contact_id is None:
        return None
    contact = Contact.objects.filter(pk=token.contact_id).first()
    if contact is None:
        raise Http404("Unknown link.")
    return contact


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex"
    return response


@login_not_required
@csrf_exempt  # RFC 8058: the mailbox provider POSTs without our cookie or form token
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    link = unsubscribe_token_read(token)
    contact = _contact_of(link)
    context = {"email": _masked(contact.email if contact else None), "test": contact is None}
    if request.method == "GET":
        done = contact is not None and contact.email_status != EmailStatus.ACTIVE
        return _no_store(render(request, "public/unsubscribe.html", {**context, "done": done}))
    if contact is not None:
        one_click = request.POST.get("List-Unsubscribe") == "One-Click"
        contact_unsubscribe(
            contact=contact,
            message_id=link.message_id,
            method="one_click" if one_click else "link",
            now=timezone.now(),
        )
    return _no_store(render(request, "public/unsubscribe.html", {**context, "done": True}))


def _topics_of(contact: Contact) -> list[dict]:
    return [
        {
            "key": topic.key,
            "name": topic.name,
            "description": topic.description,
            "subscribed": contact_topic_subscribed(contact_id=contact.pk, topic_key=topic.key),
        }
        for topic in SubscriptionTopic.objects.order_by("name", "key")
    ]


@login_not_required
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest, token: str) -> HttpResponse:
    """Each topic with a checkbox, and one for no marketing email at all. The form carries
    Django's CSRF token (a cookie set by the GET)."""
    link = preferences_token_read(token)
    contact = _contact_of(link)
    if contact is None:
        return _no_store(render(request, "public/preferences.html", {"test": True}))
    saved = False
    if request.method == "POST":
        topics = {t.key: f"topic:{t.key}" in request.POST for t in SubscriptionTopic.objects.all()}
        contact_preferences_save(
            contact=contact,
            topics=topics,
            unsubscribe_all=request.POST.get("unsubscribe_all") == "on",
            message_id=link.message_id,
            now=timezone.now(),
        )
        contact.refresh_from_db()
        saved = True
    context = {
        "email": _masked(contact.email),
        "topics": _topics_of(contact),
        "unsubscribed": contact.email_status == EmailStatus.UNSUBSCRIBED,
        "suppressed": contact.email_status in (EmailStatus.BOUNCED, EmailStatus.COMPLAINED),
        "saved": saved,
    }
    return _no_store(render(request, "public/preferences.html", context))
