"""Flows API (docs/flows.md): CRUD, activate / pause / archive, versions, enrollments per flow
and per contact. Writes go through automation.flow_services, reads through
automation.flow_selectors."""

from contextlib import contextmanager

from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.views import APIView

from automation.api.flow_serializers import (
    DEFINITION_FIELDS,
    ActivateInputSerializer,
    EnrollmentOutputSerializer,
    FlowCreateInputSerializer,
    FlowOutputSerializer,
    FlowUpdateInputSerializer,
    FlowVersionOutputSerializer,
)
from automation.flow_definition import flow_definition_clean
from automation.flow_selectors import enrollment_list, flow_get, flow_list, flow_versions
from automation.flow_services import (
    FlowConflict,
    flow_activate,
    flow_archive,
    flow_create,
    flow_delete,
    flow_pause,
    flow_update,
)
from automation.models import EnrollmentState, Flow, FlowStatus
from contacts.models import Contact
from segflow.api.errors import flatten_errors
from segflow.api.pagination import PageNumberPagination, paginated_response
from segflow.api.schema import DetailErrorSerializer
from segflow.errors import InvalidInput

CONFLICT = OpenApiResponse(DetailErrorSerializer, description="The flow's state refuses it.")
DEFINITION_HELP = (
    "The definition keys are checked together and every error comes with its JSON path "
    '(`{"errors": [{"path": "steps[2].yes[0].duration.days", "message": ...}]}`); '
    "see docs/flows.md."
)


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT


@contextmanager
def _flow_errors():
    """A service's refusal is a 409; a flow deleted meanwhile is a 404."""
    try:
        yield
    except FlowConflict as conflict:
        raise Conflict(str(conflict)) from None
    except Flow.DoesNotExist:
        raise Http404 from None


def _flow(pk: int) -> Flow:
    with _flow_errors():
        return flow_get(pk=pk)


def _choice_param(request, name: str, choices: list[str]) -> str | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    if raw not in choices:
        raise InvalidInput.single(name, f"Must be one of: {', '.join(choices)}.")
    return raw


def _validated(request, serializer_class, *, base: dict | None = None) -> tuple[dict, dict]:
    """(serializer values, definition) of the body, or a 400 with every error: the
    serializer's and, for the keys it did not refuse, the definition's (checked on the
    definition `base` with the given keys replaced)."""
    serializer = serializer_class(data=request.data)
    data = request.data if isinstance(request.data, dict) else {}
    definition = {**(base or {}), **{k: data[k] for k in DEFINITION_FIELDS if k in data}}
    if serializer.is_valid():
        return dict(serializer.validated_data), definition
    errors: dict[str, list[str]] = {}
    for item in flatten_errors(serializer.errors):
        errors.setdefault(item["path"], []).append(item["message"])
    refused = {path.split(".")[0].split("[")[0] for path in errors}
    if data and not refused & {"", *DEFINITION_FIELDS}:
        try:
            flow_definition_clean(definition)
        except InvalidInput as invalid:
            for path, messages in invalid.errors.items():
                errors.setdefault(path, []).extend(messages)
    raise InvalidInput(errors)


def _output(flow: Flow) -> Response:
    return Response(FlowOutputSerializer(_flow(flow.pk)).data)


class FlowListApi(APIView):
    pagination_class = PageNumberPagination

    @extend_schema(
        operation_id="flows_list",
        parameters=[OpenApiParameter("status", str, enum=FlowStatus.values)],
        responses=FlowOutputSerializer(many=True),
    )
    def get(self, request):
        flows = flow_list(status=_choice_param(request, "status", FlowStatus.values))
        return paginated_response(self, flows, FlowOutputSerializer)

    @extend_schema(
        operation_id="flows_create",
        request=FlowCreateInputSerializer,
        responses={201: FlowOutputSerializer},
        description=f"Create a flow (a draft unless status is active). {DEFINITION_HELP}",
    )
    def post(self, request):
        values, definition = _validated(request, FlowCreateInputSerializer)
        flow = flow_create(
            name=values["name"],
            definition=definition,
            status=values.get("status", FlowStatus.DRAFT),
            now=timezone.now(),
        )
        return Response(FlowOutputSerializer(_flow(flow.pk)).data, status=status.HTTP_201_CREATED)


class FlowDetailApi(APIView):
    @extend_schema(operation_id="flows_retrieve", responses=FlowOutputSerializer)
    def get(self, request, pk: int):
        return Response(FlowOutputSerializer(_flow(pk)).data)

    @extend_schema(
        operation_id="flows_partial_update",
        request=FlowUpdateInputSerializer,
        responses=FlowOutputSerializer,
        description="Change the given keys only. A changed definition is a draft until the "
        "next activation (`unpublished_changes`); enrollments in flight finish on their "
        f"version. {DEFINITION_HELP}",
    )
    def patch(self, request, pk: int):
        flow = _flow(pk)
        values, definition = _validated(request, FlowUpdateInputSerializer, base=flow.definition)
        changes = {"name": values["name"]} if "name" in values else {}
        if any(key in values for key in DEFINITION_FIELDS):
            changes["definition"] = definition
        with _flow_errors():
            flow = flow_update(flow=flow, **changes)
        return _output(flow)

    @extend_schema(
        operation_id="flows_destroy",
        responses={204: None, 409: CONFLICT},
        description="Only a flow that never enrolled anyone (409 otherwise: archive it).",
    )
    def delete(self, request, pk: int):
        with _flow_errors():
            flow_delete(flow=_flow(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class FlowActivateApi(APIView):
    @extend_schema(
        operation_id="flows_activate",
        request=ActivateInputSerializer,
        responses={200: FlowOutputSerializer, 409: CONFLICT},
        description="Make the definition live: a new version when it changed since the last "
        "activation (re-validated: a 400 when something it refers to is gone), else the live "
        "version resumes. 409 for an archived flow.",
    )
    def post(self, request, pk: int):
        flow = _flow(pk)
        serializer = ActivateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with _flow_errors():
            flow = flow_activate(
                flow=flow,
                enroll_current_members=serializer.validated_data["enroll_current_members"],
                now=timezone.now(),
            )
        return _output(flow)


class FlowPauseApi(APIView):
    @extend_schema(
        operation_id="flows_pause",
        request=None,
        responses={200: FlowOutputSerializer, 409: CONFLICT},
        description="No new enrollments; enrollments in flight wait where they are until the "
        "flow is activated again. 409 unless the flow is active (or already paused).",
    )
    def post(self, request, pk: int):
        with _flow_errors():
            flow = flow_pause(flow=_flow(pk))
        return _output(flow)


class FlowArchiveApi(APIView):
    @extend_schema(
        operation_id="flows_archive",
        request=None,
        responses=FlowOutputSerializer,
        description='For good: no new enrollments, active ones exit ("flow_archived").',
    )
    def post(self, request, pk: int):
        with _flow_errors():
            flow = flow_archive(flow=_flow(pk), now=timezone.now())
        return _output(flow)


class FlowVersionListApi(APIView):
    pagination_class = PageNumberPagination

    @extend_schema(
        operation_id="flows_versions_list",
        responses=FlowVersionOutputSerializer(many=True),
        description="The flow's frozen versions, newest first.",
    )
    def get(self, request, pk: int):
        versions = flow_versions(flow=_flow(pk))
        return paginated_response(self, versions, FlowVersionOutputSerializer)


STATE_PARAMETER = OpenApiParameter("state", str, enum=EnrollmentState.values)


class FlowEnrollmentListApi(APIView):
    pagination_class = PageNumberPagination

    @extend_schema(
        operation_id="flows_enrollments_list",
        parameters=[STATE_PARAMETER],
        responses=EnrollmentOutputSerializer(many=True),
        description="The flow's enrollments, newest first.",
    )
    def get(self, request, pk: int):
        state = _choice_param(request, "state", EnrollmentState.values)
        enrollments = enrollment_list(flow_id=_flow(pk).pk, state=state)
        return paginated_response(self, enrollments, EnrollmentOutputSerializer)


class ContactEnrollmentListApi(APIView):
    pagination_class = PageNumberPagination

    @extend_schema(
        operation_id="contacts_enrollments_list",
        parameters=[STATE_PARAMETER],
        responses=EnrollmentOutputSerializer(many=True),
        description="One contact's enrollments across flows, newest first.",
    )
    def get(self, request, pk: int):
        state = _choice_param(request, "state", EnrollmentState.values)
        contact = get_object_or_404(Contact.objects.only("pk"), pk=pk)
        enrollments = enrollment_list(contact_id=contact.pk, state=state)
        return paginated_response(self, enrollments, EnrollmentOutputSerializer)


urlpatterns = [
    path("flows", FlowListApi.as_view(), name="api-flows"),
    path("flows/<int:pk>", FlowDetailApi.as_view(), name="api-flow"),
    path("flows/<int:pk>/activate", FlowActivateApi.as_view(), name="api-flow-activate"),
    path("flows/<int:pk>/pause", FlowPauseApi.as_view(), name="api-flow-pause"),
    path("flows/<int:pk>/archive", FlowArchiveApi.as_view(), name="api-flow-archive"),
    path("flows/<int:pk>/versions", FlowVersionListApi.as_view(), name="api-flow-versions"),
    path(
        "flows/<int:pk>/enrollments", FlowEnrollmentListApi.as_view(), name="api-flow-enrollments"
    ),
    path(
        "contacts/<int:pk>/enrollments",
        ContactEnrollmentListApi.as_view(),
        name="api-contact-enrollments",
    ),
]
