from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from contacts.api import examples
from contacts.api.serializers import ContactInputSerializer
from contacts.contact_input import contact_input_clean
from contacts.models import Contact
from contacts.representations import ContactOutputSerializer
from contacts.selectors import contact_list
from contacts.services import contact_delete, contact_update, contact_upsert
from segflow.api.pagination import PageNumberPagination, paginated_response
from segflow.api.params import int_param, text_param


def _contact(pk: int) -> Contact:
    return get_object_or_404(Contact.objects.prefetch_related("tags"), pk=pk)


class ContactListApi(APIView):
    pagination_class = PageNumberPagination

    @extend_schema(
        operation_id="contacts_list",
        parameters=[
            OpenApiParameter("email", str, description="Exact email (case-insensitive)"),
            OpenApiParameter("external_id", str),
            OpenApiParameter("search", str, description="Part of email, first or last name"),
            OpenApiParameter("tag", str),
            OpenApiParameter("segment", int, description="Current members of this segment"),
        ],
        responses=ContactOutputSerializer(many=True),
    )
    def get(self, request):
        contacts = contact_list(
            email=text_param(request, "email"),
            search=text_param(request, "search"),
            tag=text_param(request, "tag", max_length=100),
            external_id=text_param(request, "external_id", max_length=255),
            segment=int_param(request, "segment"),
        )
        return paginated_response(self, contacts, ContactOutputSerializer)

    @extend_schema(
        operation_id="contacts_upsert",
        request=ContactInputSerializer,
        responses={200: ContactOutputSerializer, 201: ContactOutputSerializer},
        examples=[examples.CONTACT_UPSERT],
        description="Create or update the contact identified by external_id, else by email. "
        "201 when created, 200 when updated. Tags are added, never removed.",
    )
    def post(self, request):
        clean = contact_input_clean(request.data)
        contact, created = contact_upsert(values=clean.values, fields=clean.fields, tags=clean.tags)
        return Response(
            ContactOutputSerializer(_contact(contact.pk)).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class ContactDetailApi(APIView):
    @extend_schema(operation_id="contacts_retrieve", responses=ContactOutputSerializer)
    def get(self, request, pk: int):
        return Response(ContactOutputSerializer(_contact(pk)).data)

    @extend_schema(
        operation_id="contacts_partial_update",
        request=ContactInputSerializer,
        responses=ContactOutputSerializer,
        examples=[examples.CONTACT_PATCH],
        description="Change the given keys only; `tags` replaces the contact's tags.",
    )
    def patch(self, request, pk: int):
        contact = _contact(pk)
        clean = contact_input_clean(request.data)
        contact_update(contact=contact, values=clean.values, fields=clean.fields, tags=clean.tags)
        return Response(ContactOutputSerializer(_contact(pk)).data)

    @extend_schema(operation_id="contacts_destroy", responses={204: None})
    def delete(self, request, pk: int):
        contact_delete(contact=_contact(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)
