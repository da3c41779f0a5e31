"""GET /api/v1/contacts/{id}/score (the score and its ledger, newest first) and
POST /api/v1/contacts/{id}/score (a manual adjustment; an extension, docs/scoring.md)."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from contacts.models import Contact
from scoring.api.serializers import (
    LedgerEntrySerializer,
    ScoreAdjustedSerializer,
    ScoreAdjustSerializer,
    ScoreSerializer,
)
from scoring.ledger import contact_score_adjust_manual
from scoring.selectors import contact_ledger
from segflow.api.pagination import PageNumberPagination
from segflow.errors import InvalidInput


class ContactScoreApi(APIView):
    pagination_class = PageNumberPagination

    @extend_schema(operation_id="contacts_score_retrieve", responses=ScoreSerializer)
    def get(self, request, pk: int):
        contact = get_object_or_404(Contact.objects.only("pk", "lead_score"), pk=pk)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(contact_ledger(contact_id=pk), request, view=self)
        return Response(
            {
                "contact": contact.pk,
                "lead_score": contact.lead_score,
                "count": paginator.page.paginator.count,
                "next": paginator.get_next_link(),
                "previous": paginator.get_previous_link(),
                "results": LedgerEntrySerializer(page, many=True).data,
            }
        )

    @extend_schema(
        operation_id="contacts_score_adjust",
        request=ScoreAdjustSerializer,
        responses={201: ScoreAdjustedSerializer},
        description="Add points by hand (negative to remove), with a reason kept in the ledger.",
    )
    def post(self, request, pk: int):
        delta, reason = _adjust_input(request.data)
        get_object_or_404(Contact.objects.only("pk"), pk=pk)
        entry = contact_score_adjust_manual(contact_id=pk, delta=delta, reason=reason)
        if entry is None:  # deleted meanwhile
            return Response({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
        score = Contact.objects.filter(pk=pk).values_list("lead_score", flat=True).first()
        body = {"contact": pk, "lead_score": score, "entry": LedgerEntrySerializer(entry).data}
        return Response(body, status=status.HTTP_201_CREATED)


def _adjust_input(data: object) -> tuple[int, str]:
    """Strict: a whole number (not "5", not 5.0, not true) and an optional string."""
    errors: dict[str, list[str]] = {}
    if not isinstance(data, dict):
        raise InvalidInput.single("", "Must be a JSON object.")
    for key in sorted(set(data) - {"delta", "reason"}, key=str):
        errors[str(key)] = ["Unknown key. Allowed: delta, reason."]
    delta, reason = data.get("delta"), data.get("reason", "")
    if not isinstance(delta, int) or isinstance(delta, bool) or delta == 0:
        errors["delta"] = ["Required: a whole number of points, not 0."]
    elif abs(delta) > 1_000_000:
        errors["delta"] = ["Must be between -1,000,000 and 1,000,000."]
    if not isinstance(reason, str):
        errors["reason"] = ["Must be a string."]
    elif len(reason) > 180:
        errors["reason"] = ["Must be at most 180 characters."]
    if errors:
        raise InvalidInput(errors)
    return delta, reason
