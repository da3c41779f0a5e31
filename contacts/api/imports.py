import json

from django.conf import settings
from django.db import transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from contacts.csv_files import MB, csv_size_check
from contacts.csv_import import contact_import_create, contact_import_enqueue
from contacts.csv_mapping import split_tags
from contacts.models import ContactImport, ImportStatus
from segflow.api.pagination import PageNumberPagination, paginated_response
from segflow.errors import InvalidInput


def _content_length(request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _mapping(raw: str | None) -> dict:
    if not raw:
        return {}
    try:
        mapping = json.loads(raw)
    except (ValueError, RecursionError):
        mapping = None
    if not isinstance(mapping, dict):
        raise InvalidInput.single(
            "mapping", 'Must be a JSON object of {"CSV column": "field key", ...}.'
        )
    return mapping


def _queryset():
    # Drafts (uploaded through the web pages, not yet mapped) are not imports yet.
    return ContactImport.objects.defer("csv_text").exclude(status=ImportStatus.DRAFT)


class ImportRowErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="1 is the first row under the header.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text='Messages by CSV column ("" for the whole row).',
    )


class ContactImportOutputSerializer(serializers.ModelSerializer):
    errors = ImportRowErrorSerializer(
        many=True, read_only=True, help_text="The first 1,000 rows with errors."
    )

    class Meta:
        model = ContactImport
        fields = [
            "id",
            "filename",
            "status",
            "mapping",
            "tags",
            "total_rows",
            "processed_rows",
            "created_count",
            "updated_count",
            "error_count",
            "errors",
            "failure",
            "created_at",
            "finished_at",
        ]


class ContactImportInputSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="UTF-8 CSV (`,` `;` or tab), header row first.")
    mapping = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text='JSON object {"CSV column": "field key"}; "" ignores a column, "tags" '
        "splits a cell on , or ;. Columns not given map to the built-in or custom field "
        "whose key or label matches their header.",
    )
    tags = serializers.ListField(
        child=serializers.CharField(max_length=100),
        required=False,
        max_length=100,
        help_text="Tags added to every imported contact: repeat the field, or separate "
        "names with , or ;.",
    )


class ContactImportListApi(APIView):
    parser_classes = [MultiPartParser]
    pagination_class = PageNumberPagination

    @extend_schema(operation_id="imports_list", responses=ContactImportOutputSerializer(many=True))
    def get(self, request):
        return paginated_response(self, _queryset().order_by("-pk"), ContactImportOutputSerializer)

    @extend_schema(
        operation_id="imports_create",
        request={"multipart/form-data": ContactImportInputSerializer},
        responses={202: ContactImportOutputSerializer},
        description="Upload a CSV of contacts. The file and its column mapping are checked at "
        "once (400 names unmapped columns and unknown keys); rows are imported by a worker: "
        "poll GET /api/v1/imports/{id} for progress and per-row errors. Re-importing a file "
        "updates the same contacts (by external_id, else email).",
    )
    def post(self, request):
        # Refuse an oversized body before it is read (the slack is for the form's other parts).
        content_length = _content_length(request)
        if content_length > settings.CONTACT_IMPORT_MAX_BYTES + MB:
            csv_size_check(size=content_length)
        serializer = ContactImportInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = serializer.validated_data["file"]
        csv_size_check(size=upload.size)  # before reading it (contact_import_create checks too)
        mapping = _mapping(serializer.validated_data.get("mapping"))
        with transaction.atomic():
            contact_import = contact_import_create(
                data=upload.read(),
                filename=upload.name,
                mapping=mapping,
                tags=[
                    name
                    for value in serializer.validated_data.get("tags", [])
                    for name in split_tags(value)
                ],
            )
            contact_import_enqueue(import_id=contact_import.pk)
        return Response(
            ContactImportOutputSerializer(contact_import).data, status=status.HTTP_202_ACCEPTED
        )


class ContactImportDetailApi(APIView):
    @extend_schema(operation_id="imports_retrieve", responses=ContactImportOutputSerializer)
    def get(self, request, pk: int):
        return Response(ContactImportOutputSerializer(get_object_or_404(_queryset(), pk=pk)).data)
