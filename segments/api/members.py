"""A segment's members and its history: GET /api/v1/segments/{id}/members and /history."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.views import APIView

from contacts.representations import ContactOutputSerializer
from segflow.api.pagination import PageNumberPagination, paginated_response
from segflow.api.params import date_param
from segments.api.segments import FAILED, segment_not_failed, segment_or_404
from segments.api.serializers import DailyStatsOutputSerializer
from segments.selectors import segment_history, segment_members


class SegmentMembersApi(APIView):
    pagination_class = PageNumberPagination

    @extend_schema(
        operation_id="segments_members",
        responses={200: ContactOutputSerializer(many=True), 409: FAILED},
        description="Current members, in the shape of GET /api/v1/contacts. A failed segment "
        "(its members are stale) is a 409 with the reason.",
    )
    def get(self, request, pk: int):
        members = segment_members(segment=segment_not_failed(segment_or_404(pk)))
        return paginated_response(self, members, ContactOutputSerializer)


class SegmentHistoryApi(APIView):
    pagination_class = PageNumberPagination

    @extend_schema(
        operation_id="segments_history",
        parameters=[
            OpenApiParameter("since", str, description="First UTC day (YYYY-MM-DD)"),
            OpenApiParameter("until", str, description="Last UTC day (YYYY-MM-DD)"),
        ],
        responses=DailyStatsOutputSerializer(many=True),
        description="Size at the day's last evaluation and contacts entered / left, per UTC "
        "day, oldest first.",
    )
    def get(self, request, pk: int):
        stats = segment_history(
            segment=segment_or_404(pk),
            since=date_param(request, "since"),
            until=date_param(request, "until"),
        )
        return paginated_response(self, stats, DailyStatsOutputSerializer)
