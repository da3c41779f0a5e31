from django.urls import path

from segments.api import evaluation, members, segments

urlpatterns = [
    path("segments", segments.SegmentListApi.as_view(), name="api-segments"),
    path("segments/preview", evaluation.SegmentPreviewApi.as_view(), name="api-segment-preview"),
    path("segments/<int:pk>", segments.SegmentDetailApi.as_view(), name="api-segment"),
    path(
        "segments/<int:pk>/members", members.SegmentMembersApi.as_view(), name="api-segment-members"
    ),
    path(
        "segments/<int:pk>/evaluate",
        evaluation.SegmentEvaluateApi.as_view(),
        name="api-segment-evaluate",
    ),
    path(
        "segments/<int:pk>/explain",
        evaluation.SegmentExplainApi.as_view(),
        name="api-segment-explain",
    ),
    path(
        "segments/<int:pk>/history", members.SegmentHistoryApi.as_view(), name="api-segment-history"
    ),
]
