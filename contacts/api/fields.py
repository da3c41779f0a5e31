from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from contacts.api import examples
from contacts.api.serializers import CustomFieldInputSerializer, CustomFieldOutputSerializer
from contacts.field_services import custom_field_create, custom_field_delete, custom_field_update
from contacts.models import CustomField
from segflow.api.pagination import PageNumberPagination, paginated_response
from segflow.api.schema import REFUSED


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
        field = custom_field_create(**serializer.validated_data)
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
        "the type only while no contact has a value and no segment reads the field.",
    )
    def patch(self, request, key: str):
        field = get_object_or_404(CustomField, key=key)
        serializer = CustomFieldInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        field = custom_field_update(field=field, data=serializer.validated_data)
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
