"""Public pages reached from sent emails by signed links (design §8): no login, no session.

/u/<token>: GET shows a confirmation (mail scanners follow links, so a GET changes nothing);
POST unsubscribes at once, both the RFC 8058 one-click POST a mailbox provider sends
(`List-Unsubscribe=One-Click`) and the page's button. /p/<token>: the preference center.
/c/<token>: the double opt-in confirmation link of a topic.
A token that does not verify, or whose contact is gone, is a 404.
"""

from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from automation.tokens import (
    LinkToken,
    preferences_token_read,
    preferences_url,
    unsubscribe_token_read,
)
from automation.unsubscribe import (
    PREFERENCES_SOURCE,
    contact_preferences_save,
    contact_unsubscribe,
)
from contacts.models import (
    Contact,
    ContactSubscription,
    EmailStatus,
    SubscriptionStatus,
    SubscriptionTopic,
)
from contacts.selectors import TopicSubscription, contact_subscriptions_list
from contacts.subscription_confirmation import subscription_confirm_token_read
from contacts.subscriptions import contact_subscription_confirm, contact_subscriptions_set

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


def _topics_of(contact: Contact) -> list[TopicSubscription]:
    return sorted(
        contact_subscriptions_list(contact_id=contact.pk), key=lambda t: (t.topic.name, t.topic.key)
    )


def _wanted(item: TopicSubscription) -> bool:
    """What the page's checkbox shows: a pending topic was asked for."""
    return item.status in (SubscriptionStatus.SUBSCRIBED, SubscriptionStatus.PENDING)


def _preferences_save(contact: Contact, form, *, message_id: int | None) -> None:
    changes = {
        item.topic.key: f"topic:{item.topic.key}" in form
        for item in _topics_of(contact)
        if (f"topic:{item.topic.key}" in form) != _wanted(item)
    }
    contact_preferences_save(
        contact=contact,
        topics=changes,
        unsubscribe_all=form.get("unsubscribe_all") == "on",
        message_id=message_id,
        now=timezone.now(),
    )


def _confirmation_resend(contact: Contact, *, key: str) -> None:
    """Asking for a pending topic again re-sends its confirmation email (at most every
    contacts.subscriptions.CONFIRMATION_RESEND_AFTER); other topics are left alone."""
    pending = ContactSubscription.objects.filter(
        contact=contact, topic__key=key, status=SubscriptionStatus.PENDING
    )
    if key and pending.exists():
        contact_subscriptions_set(
            contact_id=contact.pk,
            statuses={key: SubscriptionStatus.SUBSCRIBED},
            source=PREFERENCES_SOURCE,
            now=timezone.now(),
        )


@login_not_required
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest, token: str) -> HttpResponse:
    """Each topic with a checkbox (pending ones say "check your inbox"), and one for no
    marketing email at all. Only the topics whose box changed are recorded (source
    "preference_center"); opting in to a double opt-in topic sends its confirmation email,
    and "send the link again" re-sends it. The form carries Django's CSRF token (a cookie
    set by the GET)."""
    link = preferences_token_read(token)
    contact = _contact_of(link)
    if contact is None:
        return _no_store(render(request, "public/preferences.html", {"test": True}))
    notice = ""
    if request.method == "POST":
        if request.POST.get("action") == "resend":
            _confirmation_resend(contact, key=request.POST.get("resend", ""))
            notice = "We sent the confirmation link again."
        else:
            _preferences_save(contact, request.POST, message_id=link.message_id)
            notice = "Your preferences are saved."
        contact.refresh_from_db()
    topics = _topics_of(contact)
    context = {
        "email": _masked(contact.email),
        "topics": topics,
        "pending": [item.topic.name for item in topics if item.status == "pending"],
        "unsubscribed": contact.email_status == EmailStatus.UNSUBSCRIBED,
        "suppressed": contact.email_status in (EmailStatus.BOUNCED, EmailStatus.COMPLAINED),
        "notice": notice,
    }
    return _no_store(render(request, "public/preferences.html", context))


@login_not_required
@require_http_methods(["GET", "POST"])
def subscription_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """The double opt-in link (/c/<token>). GET shows the topic and a button (mail scanners
    follow links, so a GET changes nothing); POST confirms: "pending" becomes "subscribed".
    Following it again shows that the subscription is confirmed; a contact who opted out
    since stays out. A token that does not verify, or whose contact or topic is gone, is a
    404."""
    read = subscription_confirm_token_read(token)
    if read is None:
        raise Http404("Unknown link.")
    contact_id, topic_key = read
    contact = Contact.objects.filter(pk=contact_id).first()
    topic = SubscriptionTopic.objects.filter(key=topic_key).first()
    if contact is None or topic is None:
        raise Http404("Unknown link.")
    if request.method == "POST":
        state = contact_subscription_confirm(
            contact_id=contact.pk, topic_key=topic.key, now=timezone.now()
        )
    else:
        state = (
            ContactSubscription.objects.filter(contact=contact, topic=topic)
            .values_list("status", flat=True)
            .first()
        )
    context = {
        "email": _masked(contact.email),
        "topic": topic,
        "state": state,
        "preferences_url": preferences_url(contact_id=contact.pk, message_id=None),
    }
    return _no_store(render(request, "public/confirm_subscription.html", context))
