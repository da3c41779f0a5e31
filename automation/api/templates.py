"""Email templates: GET/POST /api/v1/templates, GET/PATCH/DELETE /api/v1/templates/{id},
POST /api/v1/templates/{id}/preview, POST /api/v1/templates/{id}/test."""

from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.views import APIView

from automation.models import EmailLayout, EmailTemplate
from automation.rendering import TemplateRenderError, template_preview
from automation.sending import message_send_test
from automation.template_services import (
    TemplateInUse,
    template_create,
    template_delete,
    template_update,
)
from contacts.models import Contact, Event
from segflow.api.pagination import PageNumberPagination, paginated_response
from segflow.api.params import MAX_DB_INT
from segflow.api.schema import DetailErrorSerializer
from segflow.api.serializers import StrictBooleanField, StrictCharField, StrictSerializer
from segflow.errors import InvalidInput

JINJA_HELP = "Jinja2, sandboxed; the context is in docs/email.md."


class TemplateInputSerializer(StrictSerializer):
    ignored_keys = frozenset({"id", "created_at", "updated_at"})

    name = StrictCharField(max_length=200)
    subject = StrictCharField(max_length=500, help_text=JINJA_HELP)
    html = StrictCharField(max_length=500_000, help_text=JINJA_HELP)
    text = StrictCharField(
        max_length=500_000,
        required=False,
        allow_blank=True,
        help_text=f"{JINJA_HELP} Derived from the HTML when empty.",
    )
    transactional = StrictBooleanField(
        required=False,
        help_text="Transactional mail ignores subscription topics and unsubscribes (never "
        "bounced or complained addresses) and carries no List-Unsubscribe header.",
    )

    layout = serializers.IntegerField(
        min_value=1,
        max_value=MAX_DB_INT,
        required=False,
        allow_null=True,
        help_text="An email layout's id (/api/v1/layouts): the HTML goes inside it; null for none.",
    )
    track_opens = StrictBooleanField(
        required=False, help_text="Add an open pixel (default true); docs/email-tracking.md."
    )
    track_clicks = StrictBooleanField(
        required=False,
        help_text="Turn links into click redirects (default true); unsubscribe and "
        "preference links are never wrapped.",
    )


class TemplateOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = EmailTemplate
        fields = ["id", "name", "subject", "html", "text", "transactional"]
        fields += ["layout", "track_opens", "track_clicks", "created_at", "updated_at"]


class TemplatePreviewInputSerializer(StrictSerializer):
    contact = serializers.IntegerField(min_value=1, max_value=MAX_DB_INT)
    event = serializers.IntegerField(
        min_value=1,
        max_value=MAX_DB_INT,
        required=False,
        allow_null=True,
        help_text="An event to render as the trigger event (`event` in the template).",
    )


class TemplateRenderedOutputSerializer(serializers.Serializer):
    subject = serializers.CharField()
    html = serializers.CharField()
    text = serializers.CharField()


class TemplateTestSendInputSerializer(StrictSerializer):
    email = serializers.EmailField(max_length=254)
    contact = serializers.IntegerField(
        min_value=1,
        max_value=MAX_DB_INT,
        required=False,
        allow_null=True,
        help_text="Render for this contact (default: a stand-in contact with the address).",
    )


class TemplateTestSendOutputSerializer(serializers.Serializer):
    message = serializers.IntegerField(help_text="The test message's id in the message log.")
    status = serializers.CharField(help_text="sent or failed")
    reason = serializers.CharField(allow_blank=True)


class TemplateInUseError(APIException):
    status_code = status.HTTP_409_CONFLICT


def validated(serializer_class, request, *, partial: bool = False) -> dict:
    serializer = serializer_class(data=request.data, partial=partial)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def template_input(request, *, partial: bool = False) -> dict:
    """The validated template fields, the layout id resolved (an unknown one is a 400)."""
    data = validated(TemplateInputSerializer, request, partial=partial)
    if "layout" in data:
        data["layout"] = object_or_400(EmailLayout.objects, data["layout"], "layout")
    return data


def template_or_404(pk: int) -> EmailTemplate:
    return get_object_or_404(EmailTemplate, pk=pk)


def object_or_400(queryset, pk: int | None, key: str):
    """A referenced object of the body: a missing one is the body's error (400), not 404."""
    if pk is None:
        return None
    found = queryset.filter(pk=pk).first()
    if found is None:
        raise InvalidInput.single(key, f"No {key} with id {pk}.")
    return found


class TemplateListApi(APIView):
    pagination_class = PageNumberPagination

    @extend_schema(operation_id="templates_list", responses=TemplateOutputSerializer(many=True))
    def get(self, request):
        templates = EmailTemplate.objects.order_by("id")
        return paginated_response(self, templates, TemplateOutputSerializer)

    @extend_schema(
        operation_id="templates_create",
        request=TemplateInputSerializer,
        responses={201: TemplateOutputSerializer},
        description="Every part must parse: a syntax error is a 400 at its part with its line "
        '(`{"path": "html", "message": "unexpected \'}\' (line 3)"}`).',
    )
    def post(self, request):
        template = template_create(**template_input(request))
        return Response(TemplateOutputSerializer(template).data, status=status.HTTP_201_CREATED)


class TemplateDetailApi(APIView):
    @extend_schema(operation_id="templates_retrieve", responses=TemplateOutputSerializer)
    def get(self, request, pk: int):
        return Response(TemplateOutputSerializer(template_or_404(pk)).data)

    @extend_schema(
        operation_id="templates_partial_update",
        request=TemplateInputSerializer,
        responses=TemplateOutputSerializer,
        description="Change the given keys; every part given must parse.",
    )
    def patch(self, request, pk: int):
        template = template_or_404(pk)
        changes = template_input(request, partial=True)
        return Response(
            TemplateOutputSerializer(template_update(template=template, **changes)).data
        )

    @extend_schema(
        operation_id="templates_destroy",
        responses={
            204: None,
            409: OpenApiResponse(DetailErrorSerializer, description="A flow still sends it."),
        },
        description="Refused (409) while a flow that is not archived, or an enrollment in "
        "flight, may still send it. Its messages stay in the log.",
    )
    def delete(self, request, pk: int):
        try:
            template_delete(template=template_or_404(pk))
        except TemplateInUse as exc:
            raise TemplateInUseError(str(exc)) from None
        return Response(status=status.HTTP_204_NO_CONTENT)


class TemplatePreviewApi(APIView):
    @extend_schema(
        operation_id="templates_preview",
        request=TemplatePreviewInputSerializer,
        responses=TemplateRenderedOutputSerializer,
        description="Subject, HTML and text as the contact would receive them, inside the "
        "template's layout (the text derived from the template's own HTML when it has none; "
        "no tracking links, which only sent messages get). A template error is a 400 at its "
        'part: `{"errors": [{"path": "html", "message": "\'contact\' has no attribute '
        "'frist_name' (line 3)\"}]}`.",
    )
    def post(self, request, pk: int):
        template = template_or_404(pk)
        data = validated(TemplatePreviewInputSerializer, request)
        contact = object_or_400(
            Contact.objects.prefetch_related("tags"), data["contact"], "contact"
        )
        event = object_or_400(Event.objects, data.get("event"), "event")
        try:
            rendered = template_preview(template=template, contact=contact, event=event)
        except TemplateRenderError as exc:
            message = f"{exc.message} (line {exc.line})" if exc.line else exc.message
            raise InvalidInput.single(exc.part, message) from None
        return Response(TemplateRenderedOutputSerializer(rendered).data)


class TemplateTestSendApi(APIView):
    @extend_schema(
        operation_id="templates_test_send",
        request=TemplateTestSendInputSerializer,
        responses={202: TemplateTestSendOutputSerializer},
        description="Send the template to an address now, marked as a test in the message "
        "log (subject prefixed with [Test]). The answer names the message and whether the "
        "email backend accepted it (a template error fails it, with the reason).",
    )
    def post(self, request, pk: int):
        template = template_or_404(pk)
        data = validated(TemplateTestSendInputSerializer, request)
        contact = object_or_400(
            Contact.objects.prefetch_related("tags"), data.get("contact"), "contact"
        )
        message = message_send_test(template=template, to_email=data["email"], contact=contact)
        body = {"message": message.pk, "status": message.status, "reason": message.reason}
        return Response(
            TemplateTestSendOutputSerializer(body).data, status=status.HTTP_202_ACCEPTED
        )


urlpatterns = [
    path("templates", TemplateListApi.as_view(), name="api-templates"),
    path("templates/<int:pk>", TemplateDetailApi.as_view(), name="api-template"),
    path("templates/<int:pk>/preview", TemplatePreviewApi.as_view(), name="api-template-preview"),
    path("templates/<int:pk>/test", TemplateTestSendApi.as_view(), name="api-template-test"),
]
