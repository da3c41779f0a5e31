"""A contact's subscription status per topic: GET/PUT /api/v1/contacts/{id}/subscriptions.

PUT body: `{"subscriptions": {"<topic key>": "subscribed" | "unsubscribed", ...},
"source": "api"?, "confirmed": false?}`. Only the named topics change. "subscribed" to a
double opt-in topic becomes "pending" (a confirmation email goes out) unless `confirmed` is
true: the caller already holds the contact's confirmed consent.
"""

import re

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from contacts.models import Contact, SubscriptionTopic
from contacts.selectors import contact_subscriptions_list
from contacts.subscriptions import REQUESTABLE, SOURCE_MAX, contact_subscriptions_set
from segflow.api.serializers import StrictBooleanField, StrictCharField, StrictSerializer
from segflow.errors import ErrorCollector

SOURCE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
DEFAULT_SOURCE = "api"


class SubscriptionsInputSerializer(StrictSerializer):
    subscriptions = serializers.DictField(
        child=StrictCharField(),
        allow_empty=True,
        help_text='Topic key -> "subscribed" or "unsubscribed". Topics not named keep their '
        "status.",
    )
    source = StrictCharField(
        required=False,
        max_length=SOURCE_MAX,
        help_text='Recorded with each change (default "api"); lower-case letters, digits, '
        "'_', '-' and '.'.",
    )
    confirmed = StrictBooleanField(
        required=False,
        help_text="true: the contact already confirmed elsewhere, so double opt-in topics "
        "become subscribed at once instead of pending.",
    )


class SubscriptionOutputSerializer(serializers.Serializer):
    key = serializers.CharField(source="topic.key")
    name = serializers.CharField(source="topic.name")
    status = serializers.ChoiceField(choices=["subscribed", "unsubscribed", "pending"])
    changed_at = serializers.DateTimeField(allow_null=True)
    source = serializers.CharField(help_text='"default" when the topic\'s default applies.')
    confirmed_at = serializers.DateTimeField(allow_null=True)


class ContactSubscriptionsOutputSerializer(serializers.Serializer):
    contact = serializers.IntegerField()
    subscriptions = SubscriptionOutputSerializer(many=True)


SUBSCRIPTIONS_PUT = OpenApiExample(
    "Opt in to one topic, out of another",
    value={"subscriptions": {"newsletter": "subscribed", "offers": "unsubscribed"}},
    request_only=True,
)


def _check(data: dict) -> None:
    """Every unknown topic key, bad status and bad source, each at its path."""
    errors = ErrorCollector()
    requested = data["subscriptions"]
    known = set(
        SubscriptionTopic.objects.filter(key__in=list(requested)).values_list("key", flat=True)
    )
    for key, value in requested.items():
        path = f"subscriptions.{key}"
        if key not in known:
            errors.add(path, f"Unknown topic '{key}'.")
        if value not in REQUESTABLE:
            errors.add(path, f'Must be "{REQUESTABLE[0]}" or "{REQUESTABLE[1]}".')
    source = data.get("source")
    if source is not None and (not SOURCE_PATTERN.fullmatch(source) or source == "default"):
        errors.add(
            "source",
            "Use lower-case letters, digits, '_', '-' and '.', starting with a letter or a "
            "digit ('default' is reserved).",
        )
    errors.raise_if_any()


def _response(contact_id: int) -> Response:
    items = contact_subscriptions_list(contact_id=contact_id)
    data = {"contact": contact_id, "subscriptions": items}
    return Response(ContactSubscriptionsOutputSerializer(data).data)


class ContactSubscriptionsApi(APIView):
    @extend_schema(
        operation_id="contacts_subscriptions_retrieve",
        responses=ContactSubscriptionsOutputSerializer,
        description="Every topic with the contact's status: its own choice (with the time "
        'and source of the last change), else the topic\'s default (source "default").',
    )
    def get(self, request, pk: int):
        contact = get_object_or_404(Contact.objects.only("pk"), pk=pk)
        return _response(contact.pk)

    @extend_schema(
        operation_id="contacts_subscriptions_update",
        request=SubscriptionsInputSerializer,
        responses=ContactSubscriptionsOutputSerializer,
        examples=[SUBSCRIPTIONS_PUT],
        description="Set the status of the named topics; the answer is every topic's status "
        "after the change. Double opt-in topics become 'pending' and get a confirmation "
        "email, unless `confirmed` is true.",
    )
    def put(self, request, pk: int):
        contact = get_object_or_404(Contact.objects.only("pk"), pk=pk)
        serializer = SubscriptionsInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        _check(data)
        contact_subscriptions_set(
            contact_id=contact.pk,
            statuses=data["subscriptions"],
            source=data.get("source", DEFAULT_SOURCE),
            now=timezone.now(),
            double_opt_in=not data.get("confirmed", False),
        )
        return _response(contact.pk)
