"""Email layouts (MJML): GET/POST /api/v1/layouts, GET/PATCH/DELETE /api/v1/layouts/{id}."""

from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.views import APIView

from automation.api.templates import validated
from automation.layouts import LayoutInUse, layout_create, layout_delete, layout_update
from automation.models import EmailLayout
from segflow.api.pagination import PageNumberPagination, paginated_response
from segflow.api.schema import DetailErrorSerializer
from segflow.api.serializers import StrictCharField, StrictSerializer

MJML_HELP = (
    "MJML with {{ content }} exactly once where the template's HTML goes (in <mj-text> or "
    "<mj-raw>); {{ unsubscribe_url }} and {{ preferences_url }} may appear too. Compiled with "
    "mrml: MJML it refuses is a 400 at `mjml`."
)


class LayoutInputSerializer(StrictSerializer):
    ignored_keys = frozenset({"id", "created_at", "updated_at"})

    name = StrictCharField(max_length=200)
    mjml = StrictCharField(max_length=500_000, help_text=MJML_HELP)


class LayoutOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = EmailLayout
        fields = ["id", "name", "mjml", "created_at", "updated_at"]


class LayoutInUseError(APIException):
    status_code = status.HTTP_409_CONFLICT


def layout_or_404(pk: int) -> EmailLayout:
    return get_object_or_404(EmailLayout, pk=pk)


class LayoutListApi(APIView):
    pagination_class = PageNumberPagination

    @extend_schema(operation_id="layouts_list", responses=LayoutOutputSerializer(many=True))
    def get(self, request):
        return paginated_response(self, EmailLayout.objects.order_by("id"), LayoutOutputSerializer)

    @extend_schema(
        operation_id="layouts_create",
        request=LayoutInputSerializer,
        responses={201: LayoutOutputSerializer},
        description='MJML that does not compile is a 400: `{"path": "mjml", "message": ...}`.',
    )
    def post(self, request):
        layout = layout_create(**validated(LayoutInputSerializer, request))
        return Response(LayoutOutputSerializer(layout).data, status=status.HTTP_201_CREATED)


class LayoutDetailApi(APIView):
    @extend_schema(operation_id="layouts_retrieve", responses=LayoutOutputSerializer)
    def get(self, request, pk: int):
        return Response(LayoutOutputSerializer(layout_or_404(pk)).data)

    @extend_schema(
        operation_id="layouts_partial_update",
        request=LayoutInputSerializer,
        responses=LayoutOutputSerializer,
        description="Change the given keys; new MJML must compile. Templates using the layout "
        "send with the new one from their next message.",
    )
    def patch(self, request, pk: int):
        layout = layout_or_404(pk)
        changes = validated(LayoutInputSerializer, request, partial=True)
        return Response(LayoutOutputSerializer(layout_update(layout=layout, **changes)).data)

    @extend_schema(
        operation_id="layouts_destroy",
        responses={
            204: None,
            409: OpenApiResponse(DetailErrorSerializer, description="Templates use it."),
        },
        description="Refused (409) while templates use it.",
    )
    def delete(self, request, pk: int):
        try:
            layout_delete(layout=layout_or_404(pk))
        except LayoutInUse as exc:
            raise LayoutInUseError(str(exc)) from None
        return Response(status=status.HTTP_204_NO_CONTENT)


urlpatterns = [
    path("layouts", LayoutListApi.as_view(), name="api-layouts"),
    path("layouts/<int:pk>", LayoutDetailApi.as_view(), name="api-layout"),
]
