"""Evaluate, preview and explain: POST /api/v1/segments/{id}/evaluate,
POST /api/v1/segments/preview, GET /api/v1/segments/{id}/explain?contact=."""

from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from contacts.models import Contact
from contacts.representations import ContactOutputSerializer
from segflow.api.params import bool_param, int_param
from segflow.errors import InvalidInput
from segments.api.segments import FAILED, SegmentFailed, segment_not_failed, segment_or_404
from segments.api.serializers import (
    EvaluationOutputSerializer,
    ExplainOutputSerializer,
    PreviewInputSerializer,
    PreviewOutputSerializer,
)
from segments.evaluation import SegmentEvaluationFailed
from segments.explain import explain_contact
from segments.models import Segment
from segments.scheduler import segment_evaluate_now, segment_queue_refresh
from segments.selectors import segment_preview
from segments.validation import stored_conditions_problem, validate_conditions_or_raise


class SegmentEvaluateApi(APIView):
    @extend_schema(
        operation_id="segments_evaluate",
        request=None,
        parameters=[
            OpenApiParameter("wait", bool, description="Evaluate now and answer the counts"),
        ],
        responses={
            200: EvaluationOutputSerializer,
            202: OpenApiResponse(description="Evaluation queued."),
            409: FAILED,
        },
        description="Re-evaluate every contact. With `wait=true` the evaluation runs in the "
        "request and answers `{size, entered, left}`; otherwise it is queued (202). Segments "
        "that read this one follow when its membership changed. A failed segment is a 409 "
        "unless `wait=true` evaluates it successfully (which clears the failure); an "
        "evaluation that fails marks the segment failed and is a 409 with the reason. The "
        "body is empty or `{}`; anything else is a 400.",
    )
    def post(self, request, pk: int):
        segment = segment_or_404(pk)
        # Options travel in the query string: a body is refused, not silently ignored.
        if request.data != {}:
            raise InvalidInput.single("", "The body must be empty or {}: evaluate takes none.")
        if not bool_param(request, "wait"):
            segment_not_failed(segment)  # background evaluation skips failed segments
            segment_queue_refresh(segment_ids=[segment.pk])
            return Response({"detail": "Evaluation queued."}, status=status.HTTP_202_ACCEPTED)
        try:
            result = segment_evaluate_now(segment=segment, now=timezone.now())
        except Segment.DoesNotExist:
            raise Http404 from None  # deleted meanwhile
        except SegmentEvaluationFailed as failed:
            raise SegmentFailed(segment_id=segment.pk, reason=failed.reason) from None
        return Response(EvaluationOutputSerializer(result).data)


class SegmentPreviewApi(APIView):
    @extend_schema(
        operation_id="segments_preview",
        request=PreviewInputSerializer,
        responses=PreviewOutputSerializer,
        description="Count and a sample of the contacts an unsaved condition tree matches now.",
    )
    def post(self, request):
        serializer = PreviewInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        conditions = serializer.validated_data["conditions"]
        validate_conditions_or_raise(conditions)
        count, sample = segment_preview(
            conditions=conditions,
            now=timezone.now(),
            sample_size=serializer.validated_data["sample_size"],
        )
        return Response({"count": count, "sample": ContactOutputSerializer(sample, many=True).data})


class SegmentExplainApi(APIView):
    @extend_schema(
        operation_id="segments_explain",
        parameters=[OpenApiParameter("contact", int, required=True)],
        responses={200: ExplainOutputSerializer, 409: FAILED},
        description="The segment's tree with each node's result for the contact and, on "
        "leaves, the contact's actual values: why they are in, or out. `result` is the "
        "verdict now; `member` whether the last evaluation put them in. A failed segment, or "
        "one whose stored conditions no longer validate, is a 409 with the reason.",
    )
    def get(self, request, pk: int):
        segment = segment_not_failed(segment_or_404(pk))
        contact_id = int_param(request, "contact")
        if contact_id is None:
            raise InvalidInput.single("contact", "Required: the id of the contact to explain.")
        reason = stored_conditions_problem(segment.conditions, segment_id=segment.pk)
        if reason:
            raise SegmentFailed(segment_id=segment.pk, reason=reason)
        try:
            tree = explain_contact(segment.conditions, contact_id=contact_id, now=timezone.now())
        except Contact.DoesNotExist:
            raise InvalidInput.single("contact", f"No contact with id {contact_id}.") from None
        member = segment.memberships.current().filter(contact_id=contact_id)
        return Response(
            {
                "segment": segment.pk,
                "contact": contact_id,
                "result": tree["result"],
                "member": member.exists(),
                "tree": tree,
            }
        )
