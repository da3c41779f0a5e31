"""Subscription topics: GET/POST /api/v1/topics, GET/PATCH/DELETE /api/v1/topics/{key}.
The rules are contacts.topics'; the serializers only shape the body."""

from django.core.validators import RegexValidator
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from contacts.models import SubscriptionTopic
from contacts.topics import (
    DEFAULTS,
    KEY_RULE,
    TOPIC_KEY_PATTERN,
    topic_create,
    topic_default,
    topic_delete,
    topic_update,
)
from segflow.api.pagination import PageNumberPagination, paginated_response
from segflow.api.serializers import StrictBooleanField, StrictCharField, StrictSerializer


class TopicInputSerializer(StrictSerializer):
    """A topic. Unknown keys are rejected; id and created_at (echoed from a response) are
    accepted and ignored."""

    ignored_keys = frozenset({"id", "created_at"})

    key = StrictCharField(
        max_length=64,
        trim_whitespace=False,
        validators=[RegexValidator(TOPIC_KEY_PATTERN, message=KEY_RULE)],
        help_text=KEY_RULE,
    )
    name = StrictCharField(max_length=200, trim_whitespace=False)
    description = StrictCharField(
        required=False, allow_blank=True, max_length=2000, trim_whitespace=False
    )
    default = serializers.ChoiceField(
        choices=DEFAULTS,
        required=False,
        help_text="Whether contacts without a choice of their own count as subscribed "
        '(default "opt_in").',
    )
    double_opt_in = StrictBooleanField(
        required=False,
        help_text="Subscribing sends a confirmation email; the status is 'pending' until its "
        'link is followed. Needs default "opt_out".',
    )


class TopicOutputSerializer(serializers.ModelSerializer):
    default = serializers.SerializerMethodField()

    class Meta:
        model = SubscriptionTopic
        fields = ["id", "key", "name", "description", "default", "double_opt_in", "created_at"]

    def get_default(self, topic) -> str:
        return topic_default(topic)


TOPIC_CREATE = OpenApiExample(
    "A newsletter",
    value={
        "key": "newsletter",
        "name": "Monthly newsletter",
        "description": "Product news, once a month.",
        "default": "opt_out",
        "double_opt_in": True,
    },
    request_only=True,
)


class TopicListApi(APIView):
    pagination_class = PageNumberPagination

    @extend_schema(operation_id="topics_list", responses=TopicOutputSerializer(many=True))
    def get(self, request):
        topics = SubscriptionTopic.objects.order_by("key")
        return paginated_response(self, topics, TopicOutputSerializer)

    @extend_schema(
        operation_id="topics_create",
        request=TopicInputSerializer,
        responses={201: TopicOutputSerializer},
        examples=[TOPIC_CREATE],
    )
    def post(self, request):
        serializer = TopicInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        topic = topic_create(**serializer.validated_data)
        return Response(TopicOutputSerializer(topic).data, status=status.HTTP_201_CREATED)


class TopicDetailApi(APIView):
    @extend_schema(operation_id="topics_retrieve", responses=TopicOutputSerializer)
    def get(self, request, key: str):
        topic = get_object_or_404(SubscriptionTopic, key=key)
        return Response(TopicOutputSerializer(topic).data)

    @extend_schema(
        operation_id="topics_partial_update",
        request=TopicInputSerializer,
        responses=TopicOutputSerializer,
        description="Change name, description, default or double_opt_in. The key never "
        "changes. A new default changes the status of every contact without a choice of "
        "their own (segments follow).",
    )
    def patch(self, request, key: str):
        topic = get_object_or_404(SubscriptionTopic, key=key)
        serializer = TopicInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        topic = topic_update(topic=topic, data=serializer.validated_data)
        return Response(TopicOutputSerializer(topic).data)

    @extend_schema(
        operation_id="topics_destroy",
        responses={204: None},
        description="Deletes the topic and every contact's choice for it. Flow steps that "
        "name it then skip every contact; segment conditions on it match no one.",
    )
    def delete(self, request, key: str):
        topic_delete(topic=get_object_or_404(SubscriptionTopic, key=key))
        return Response(status=status.HTTP_204_NO_CONTENT)
