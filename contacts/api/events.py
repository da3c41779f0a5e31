from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from contacts.api import examples
from contacts.api.serializers import (
    EventAcceptedSerializer,
    EventBatchInputSerializer,
    EventBatchResultSerializer,
    EventInputSerializer,
    EventOutputSerializer,
)
from contacts.event_batch import event_batch_ingest, event_batch_items
from contacts.ingest import EventInput, event_parse
from contacts.ingest_group import event_store
from contacts.selectors import event_list
from segflow.api.hot_path import json_response, plain_json_body
from segflow.api.pagination import PageNumberPagination, paginated_response
from segflow.api.params import datetime_param, int_param, text_param
from segflow.api.parsers import ParsedJSONParser
from segflow.errors import InvalidInput


class EventListApi(APIView):
    pagination_class = PageNumberPagination

    @extend_schema(
        operation_id="events_list",
        parameters=[
            OpenApiParameter("contact", int),
            OpenApiParameter("name", str),
            OpenApiParameter("since", str, description="ISO 8601; occurred_at >= since"),
        ],
        responses=EventOutputSerializer(many=True),
        description="Events, newest first.",
    )
    def get(self, request):
        events = event_list(
            contact_id=int_param(request, "contact"),
            name=text_param(request, "name", max_length=200),
            since=datetime_param(request, "since"),
        )
        return paginated_response(self, events, EventOutputSerializer)

    @extend_schema(
        operation_id="events_create",
        request=EventInputSerializer,
        responses={202: EventAcceptedSerializer},
        examples=[examples.EVENT_CREATE],
        description="Store one event (creating the contact if unknown). A replayed "
        "idempotency_key is accepted and stored once (`duplicate: true`).",
    )
    def post(self, request):
        event, errors = event_parse(request.data, now=timezone.now())
        if errors:
            raise InvalidInput(errors)
        return Response(_event_store(event), status=status.HTTP_202_ACCEPTED)

    def dispatch(self, request, *args, **kwargs):
        # The busiest request of all: a valid one skips DRF's request, negotiation and
        # renderer (segflow.api.hot_path); anything else, errors included, is DRF's as usual.
        if request.method == "POST":
            body = plain_json_body(request)
            if body is not None:
                event, errors = event_parse(body, now=timezone.now())
                if not errors:
                    return json_response(
                        _event_store(event),
                        status=status.HTTP_202_ACCEPTED,
                        headers=self.default_response_headers,
                    )
        return super().dispatch(request, *args, **kwargs)


def _event_store(event: EventInput) -> dict:
    # Grouped with the process's concurrent single POSTs into one commit (contacts.ingest_group).
    stored = event_store(event=event)
    return {"id": stored.event_id, "contact": stored.contact_id, "duplicate": stored.duplicate}


class EventBatchApi(APIView):
    # Items are validated one by one (contacts.event_batch): an unstorable value is
    # that item's error, reported by index, not the whole batch's.
    parser_classes = [ParsedJSONParser]

    @extend_schema(
        operation_id="events_batch",
        request=EventBatchInputSerializer,
        responses={202: EventBatchResultSerializer},
        examples=[examples.EVENT_BATCH],
        description="Up to 1,000 events. Valid ones are stored; invalid ones are reported by "
        "index with their errors; one bad item never loses the others. A body that is not "
        '{"events": [...]} (another top-level key included) is a 400.',
    )
    def post(self, request):
        result = event_batch_ingest(items=event_batch_items(request.data))
        return Response(
            {
                "accepted": result.accepted,
                "duplicates": result.duplicates,
                "rejected": result.rejected,
            },
            status=status.HTTP_202_ACCEPTED,
        )
