"""The message log: GET /api/v1/messages?contact=&flow=&status=&template=,
GET /api/v1/messages/{id}."""

from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from automation.models import Message, MessageStatus
from segflow.api.pagination import PageNumberPagination, paginated_response
from segflow.api.params import int_param, text_param
from segflow.errors import InvalidInput

LIST_FIELDS = [
    "id",
    "contact",
    "template",
    "flow",
    "step",
    "status",
    "reason",
    "subject",
    "to_email",
    "is_test",
    "created_at",
    "sent_at",
]


class MessageOutputSerializer(serializers.ModelSerializer):
    step = serializers.CharField(source="step_id", help_text="The flow step's id ('' for tests).")
    status = serializers.CharField(
        help_text="sending (being handed to the email backend), sent, skipped, failed or "
        "unknown (cut off during the hand-off: never retried).",
    )

    class Meta:
        model = Message
        fields = LIST_FIELDS


@extend_schema_field(
    {"type": "object", "additionalProperties": {"type": "string"}},
)
class HeadersField(serializers.JSONField):
    """Header name -> value, as sent."""


class MessageDetailOutputSerializer(MessageOutputSerializer):
    headers = HeadersField(help_text="Headers it was sent with (Message-ID, List-Unsubscribe).")

    class Meta:
        model = Message
        fields = [
            *LIST_FIELDS,
            "enrollment",
            "topic",
            "from_email",
            "provider_message_id",
            "html",
            "text",
            "headers",
        ]


def message_list(request):
    messages = Message.objects.order_by("-created_at", "-id")
    for key in ("contact", "flow", "template"):
        value = int_param(request, key)
        if value is not None:
            messages = messages.filter(**{f"{key}_id": value})
    wanted = text_param(request, "status", max_length=16)
    if wanted is not None:
        if wanted not in MessageStatus.values:
            raise InvalidInput.single(
                "status", f"Must be one of: {', '.join(MessageStatus.values)}."
            )
        messages = messages.filter(status=wanted)
    return messages


class MessageListApi(APIView):
    pagination_class = PageNumberPagination

    @extend_schema(
        operation_id="messages_list",
        parameters=[
            OpenApiParameter("contact", OpenApiTypes.INT, description="A contact's id"),
            OpenApiParameter("flow", OpenApiTypes.INT, description="A flow's id"),
            OpenApiParameter("template", OpenApiTypes.INT, description="A template's id"),
            OpenApiParameter("status", str, enum=MessageStatus.values),
        ],
        responses=MessageOutputSerializer(many=True),
        description="Every email a flow or a test send meant to send, newest first, with "
        "its fate: sent, skipped or failed (with the reason), unknown.",
    )
    def get(self, request):
        return paginated_response(self, message_list(request), MessageOutputSerializer)


class MessageDetailApi(APIView):
    @extend_schema(
        operation_id="messages_retrieve",
        responses=MessageDetailOutputSerializer,
        description="One message with its rendered HTML and text and its headers.",
    )
    def get(self, request, pk: int):
        message = get_object_or_404(Message, pk=pk)
        return Response(MessageDetailOutputSerializer(message).data)


urlpatterns = [
    path("messages", MessageListApi.as_view(), name="api-messages"),
    path("messages/<int:pk>", MessageDetailApi.as_view(), name="api-message"),
]
