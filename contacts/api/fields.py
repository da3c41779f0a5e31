from django.db import IntegrityError, transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from contacts.api import examples
from contacts.api.serializers import CustomFieldInputSerializer, CustomFieldOutputSerializer
from contacts.field_usage import custom_field_check_unused
from contacts.models import Contact, CustomField
from contacts.services import custom_field_delete
from segflow.api.pagination import PageNumberPagination, paginated_response
from segflow.api.schema import REFUSED
from segflow.errors import InvalidInput


class FieldListApi(APIView):
    pagination_class = PageNumberPagination

    @extend_schema(operation_id="fields_list", responses=CustomFieldOutputSerializer(many=True))
    def get(self, request):
        return paginated_response(
            self, CustomField.objects.order_by("key"), CustomFieldOutputSerializer
        )

    @extend_schema(
        operation_id="fields_create",
        request=CustomFieldInputSerializer,
        responses={201: CustomFieldOutputSerializer},
        examples=[examples.FIELD_CREATE],
    )
    def post(self, request):
        serializer = CustomFieldInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            with transaction.atomic():
                field = CustomField.objects.create(**serializer.validated_data)
        except IntegrityError:
            raise InvalidInput.single("key", "A field with this key already exists.") from None
        return Response(CustomFieldOutputSerializer(field).data, status=status.HTTP_201_CREATED)


class FieldDetailApi(APIView):
    @extend_schema(operation_id="fields_retrieve", responses=CustomFieldOutputSerializer)
    def get(self, request, key: str):
        return Response(CustomFieldOutputSerializer(get_object_or_404(CustomField, key=key)).data)

    @extend_schema(
        operation_id="fields_partial_update",
        request=CustomFieldInputSerializer,
        responses=CustomFieldOutputSerializer,
        description="Change label, description, choices or source. The key never changes; "
        "the type only while no contact has a value.",
    )
    def patch(self, request, key: str):
        field = get_object_or_404(CustomField, key=key)
        serializer = CustomFieldInputSerializer(field, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        if changes.pop("key", key) != key:
            raise InvalidInput.single("key", "A field's key cannot change.")
        new_type = changes.get("type", field.type)
        if new_type != field.type and Contact.objects.filter(fields__has_key=key).exists():
            raise InvalidInput.single(
                "type",
                "Contacts have values for this field; its type "
                "cannot change. Create a new field instead.",
            )
        if new_type != field.type:
            custom_field_check_unused(key=key, path="type", change="change its type")
        for name, value in changes.items():
            setattr(field, name, value)
        field.save()
        return Response(CustomFieldOutputSerializer(field).data)

    @extend_schema(
        operation_id="fields_destroy",
        responses={204: None, 400: REFUSED},
        description="Deletes the field and its value on every contact. Refused (400) while "
        "segment conditions read it.",
    )
    def delete(self, request, key: str):
        custom_field_delete(field=get_object_or_404(CustomField, key=key))
        return Response(status=status.HTTP_204_NO_CONTENT)
