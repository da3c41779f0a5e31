"""Segments CRUD: GET/POST /api/v1/segments, GET/PATCH/DELETE /api/v1/segments/{id}."""

from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.response import Response
from rest_framework.views import APIView

from segflow.api.errors import flatten_errors
from segflow.api.pagination import PageNumberPagination, paginated_response
from segflow.api.schema import REFUSED
from segflow.errors import InvalidInput
from segments.api.serializers import (
    SegmentFailedOutputSerializer,
    SegmentInputSerializer,
    SegmentOutputSerializer,
)
from segments.models import Segment
from segments.services import segment_create, segment_delete, segment_update
from segments.validation import validate_conditions


def segment_or_404(pk: int) -> Segment:
    return get_object_or_404(Segment.objects.prefetch_related("depends_on"), pk=pk)


class SegmentFailed(APIException):
    """409: the segment's conditions cannot be evaluated (a failed segment)."""

    status_code = status.HTTP_409_CONFLICT

    def __init__(self, *, segment_id: int, reason: str):
        super().__init__(
            {
                "detail": f"Segment {segment_id} cannot be evaluated: {reason} "
                "Change its conditions, or evaluate it with wait=true once what it reads "
                "is back.",
                "failure_reason": reason,
            }
        )


FAILED = OpenApiResponse(
    SegmentFailedOutputSerializer,
    description="The segment is failed: its conditions cannot be evaluated until they change.",
)


def segment_not_failed(segment: Segment) -> Segment:
    """The segment, or a 409 when it is marked failed (its memberships are stale)."""
    if segment.failed_at is not None:
        raise SegmentFailed(segment_id=segment.pk, reason=segment.failure_reason)
    return segment


def validated_input(request, *, partial: bool = False, segment_id: int | None = None) -> dict:
    """The body's valid values; else a 400 listing every error, the condition tree's
    included (each with its JSON path), not just the first kind found."""
    serializer = SegmentInputSerializer(data=request.data, partial=partial)
    if serializer.is_valid():
        return dict(serializer.validated_data)
    errors: dict[str, list[str]] = {}
    for item in flatten_errors(serializer.errors):
        errors.setdefault(item["path"], []).append(item["message"])
    conditions = request.data.get("conditions") if isinstance(request.data, dict) else None
    if conditions is not None and "conditions" not in errors:
        for error in validate_conditions(conditions, segment_id=segment_id):
            errors.setdefault(error.path, []).append(error.message)
    raise InvalidInput(errors)


class SegmentListApi(APIView):
    pagination_class = PageNumberPagination

    @extend_schema(operation_id="segments_list", responses=SegmentOutputSerializer(many=True))
    def get(self, request):
        segments = Segment.objects.prefetch_related("depends_on").order_by("id")
        return paginated_response(self, segments, SegmentOutputSerializer)

    @extend_schema(
        operation_id="segments_create",
        request=SegmentInputSerializer,
        responses={201: SegmentOutputSerializer},
        description="Create a segment; its first evaluation is queued at once. An invalid "
        "condition tree is a 400 with every error and its path "
        '(`{"errors": [{"path": "conditions.all[2].count.value", "message": ...}]}`).',
    )
    def post(self, request):
        segment = segment_create(**validated_input(request))
        return Response(
            SegmentOutputSerializer(segment_or_404(segment.pk)).data,
            status=status.HTTP_201_CREATED,
        )


class SegmentDetailApi(APIView):
    @extend_schema(operation_id="segments_retrieve", responses=SegmentOutputSerializer)
    def get(self, request, pk: int):
        return Response(SegmentOutputSerializer(segment_or_404(pk)).data)

    @extend_schema(
        operation_id="segments_partial_update",
        request=SegmentInputSerializer,
        responses=SegmentOutputSerializer,
        description="Change the given keys only. New conditions are validated (cycles "
        "through other segments included), clear a failure (`failed_at`) and a full "
        "evaluation is queued.",
    )
    def patch(self, request, pk: int):
        segment = segment_or_404(pk)
        changes = validated_input(request, partial=True, segment_id=segment.pk)
        try:
            segment_update(segment=segment, **changes)
        except Segment.DoesNotExist:
            raise Http404 from None  # deleted meanwhile
        return Response(SegmentOutputSerializer(segment_or_404(pk)).data)

    @extend_schema(
        operation_id="segments_destroy",
        responses={204: None, 400: REFUSED},
        description="Refused (400) while another segment's conditions use this segment.",
    )
    def delete(self, request, pk: int):
        try:
            segment_delete(segment=segment_or_404(pk))
        except Segment.DoesNotExist:
            raise Http404 from None  # deleted meanwhile
        return Response(status=status.HTTP_204_NO_CONTENT)
