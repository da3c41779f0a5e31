"""GET/POST /api/v1/scoring-rules, GET/PATCH/DELETE /api/v1/scoring-rules/{id}."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from scoring.api.serializers import RuleInputSerializer, RuleOutputSerializer
from scoring.models import ScoringRule
from scoring.rules import rule_create, rule_delete, rule_update
from segflow.api.pagination import PageNumberPagination, paginated_response


class ScoringRuleListApi(APIView):
    pagination_class = PageNumberPagination

    @extend_schema(operation_id="scoring_rules_list", responses=RuleOutputSerializer(many=True))
    def get(self, request):
        return paginated_response(self, ScoringRule.objects.order_by("pk"), RuleOutputSerializer)

    @extend_schema(
        operation_id="scoring_rules_create",
        request=RuleInputSerializer,
        responses={201: RuleOutputSerializer},
        description="An event rule (event + optional `where` property filters) or a condition "
        "rule (`condition`, a condition tree: points given once while a contact matches).",
    )
    def post(self, request):
        rule = rule_create(data=request.data)
        return Response(RuleOutputSerializer(rule).data, status=status.HTTP_201_CREATED)


class ScoringRuleDetailApi(APIView):
    @extend_schema(operation_id="scoring_rules_retrieve", responses=RuleOutputSerializer)
    def get(self, request, pk: int):
        return Response(RuleOutputSerializer(get_object_or_404(ScoringRule, pk=pk)).data)

    @extend_schema(
        operation_id="scoring_rules_partial_update",
        request=RuleInputSerializer(partial=True),
        responses=RuleOutputSerializer,
    )
    def patch(self, request, pk: int):
        rule = rule_update(rule=get_object_or_404(ScoringRule, pk=pk), data=request.data)
        return Response(RuleOutputSerializer(rule).data)

    @extend_schema(
        operation_id="scoring_rules_destroy",
        responses={204: None},
        description="Past ledger rows stay; a condition rule first gives back its points.",
    )
    def delete(self, request, pk: int):
        rule_delete(rule=get_object_or_404(ScoringRule, pk=pk))
        return Response(status=status.HTTP_204_NO_CONTENT)
