"""A flow's report: GET /api/v1/flows/{id}/report (docs/flow-reports.md)."""

from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from automation.models import Flow
from automation.reports import flow_report


class _StepSerializer(serializers.Serializer):
    id = serializers.CharField()
    type = serializers.CharField()
    in_current_definition = serializers.BooleanField(
        help_text="False for a step only an older version has (enrollments may still be at it)."
    )
    entered = serializers.IntegerField(help_text="Enrollments that reached it.")
    completed = serializers.IntegerField(help_text="Enrollments whose run of it finished.")
    waiting = serializers.IntegerField(help_text="Active enrollments at it now.")
    failed = serializers.IntegerField(
        help_text="Enrollments whose run of it failed for good (a webhook out of attempts)."
    )


class _EnrollmentsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    active = serializers.IntegerField()
    completed = serializers.IntegerField()
    exited = serializers.IntegerField()
    failed = serializers.IntegerField()


class _MessagesSerializer(serializers.Serializer):
    sending = serializers.IntegerField()
    sent = serializers.IntegerField()
    skipped = serializers.IntegerField()
    failed = serializers.IntegerField()
    unknown = serializers.IntegerField()
    skipped_by_reason = serializers.DictField(child=serializers.IntegerField())


class _GroupSerializer(serializers.Serializer):
    enrollments = serializers.IntegerField()
    conversions = serializers.IntegerField()
    rate = serializers.FloatField(allow_null=True)


class _LiftSerializer(serializers.Serializer):
    absolute = serializers.FloatField(help_text="Treated rate minus holdout rate.")
    relative = serializers.FloatField(allow_null=True, help_text="Absolute lift / holdout rate.")
    ci95 = serializers.ListField(child=serializers.FloatField(), min_length=2, max_length=2)
    z = serializers.FloatField()
    p_value = serializers.FloatField()
    significant = serializers.BooleanField(help_text="p_value < 0.05")


class _GoalSerializer(serializers.Serializer):
    event = serializers.CharField()
    within = serializers.DictField(child=serializers.IntegerField())
    treated = _GroupSerializer()
    holdout = _GroupSerializer()
    lift = _LiftSerializer(allow_null=True)
    method = serializers.CharField()
    caveat = serializers.CharField(allow_null=True)


class _FlowSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    status = serializers.CharField()


class FlowReportOutputSerializer(serializers.Serializer):
    flow = _FlowSerializer()
    steps = _StepSerializer(many=True)
    enrollments = _EnrollmentsSerializer()
    exits = serializers.DictField(
        child=serializers.IntegerField(), help_text="Exited enrollments by exit reason."
    )
    failures = serializers.DictField(
        child=serializers.IntegerField(), help_text="Failed enrollments by reason."
    )
    messages = _MessagesSerializer()
    goal = _GoalSerializer(allow_null=True)


class FlowReportApi(APIView):
    @extend_schema(
        operation_id="flows_report",
        responses=FlowReportOutputSerializer,
        description="Per step (document order) entered / completed / waiting; enrollments by "
        "state; exits and failures by reason; messages by status; goal conversions of "
        "treated vs holdout with the lift and its 95 % interval (null without a goal). "
        "See docs/flow-reports.md.",
    )
    def get(self, request, pk: int):
        flow = get_object_or_404(Flow, pk=pk)
        return Response(FlowReportOutputSerializer(flow_report(flow=flow)).data)


urlpatterns = [
    path("flows/<int:pk>/report", FlowReportApi.as_view(), name="api-flow-report"),
]
