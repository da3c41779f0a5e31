"""OpenAPI generation that tells the truth about errors and request bodies.

Every operation documents the error answers it can give (segflow.api.errors shapes them):
400 `{"detail", "errors": [{"path", "message"}]}` when it reads a body or a query string,
401 when it needs an API key, 403 when a session-cookie caller can fail the CSRF check,
404 when it has a path parameter or pages a list, 415 when it reads a body. Serializers that
reject unknown keys say so with `additionalProperties: false`.
"""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import force_instance
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny

from segflow.api.serializers import StrictSerializer


class ErrorItemSerializer(serializers.Serializer):
    path = serializers.CharField(
        help_text='JSON path of the bad value ("fields.plan", "events[3].name"); '
        '"" for the whole body.',
        allow_blank=True,
    )
    message = serializers.CharField()


class ValidationErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    errors = ErrorItemSerializer(many=True)


class DetailErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


# For operations that refuse some requests without reading a body (a DELETE of something in
# use): `responses={204: None, 400: REFUSED}`.
REFUSED = OpenApiResponse(
    ValidationErrorSerializer, description="Refused, with the reason and the path it concerns."
)

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class SegflowAutoSchema(AutoSchema):
    def _get_parameters(self):
        parameters = super()._get_parameters()
        for parameter in parameters:
            # Our query-string readers (segflow.api.params, the paginator) take an empty
            # optional parameter (`?contact=`) as not given.
            if parameter["in"] == "query" and not parameter.get("required"):
                parameter["allowEmptyValue"] = True
        return parameters

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code, (serializer, description) in self._error_responses().items():
            if code not in responses:
                responses[code] = self._get_response_for_code(serializer, code)
                responses[code]["description"] = description
        return responses

    def _error_responses(self) -> dict[str, tuple[type[serializers.Serializer], str]]:
        reads_body = self.method in _BODY_METHODS
        parameters = self._get_parameters()
        reads_query = any(p["in"] == "query" for p in parameters)
        has_path_parameter = any(p["in"] == "path" for p in parameters)
        errors = {}
        if reads_body or reads_query:
            errors["400"] = (ValidationErrorSerializer, "Invalid input, every error with its path.")
        if self._needs_authentication():
            errors["401"] = (DetailErrorSerializer, "Missing, invalid or revoked API key.")
        if self.method not in _SAFE_METHODS and self._accepts_session_cookie():
            errors["403"] = (
                DetailErrorSerializer,
                "CSRF check failed (callers authenticated by a session cookie only).",
            )
        if has_path_parameter or self._is_paginated():
            errors["404"] = (DetailErrorSerializer, "No such object, or no such page.")
        if reads_body:
            errors["415"] = (DetailErrorSerializer, "Unsupported Content-Type.")
        return errors

    def _needs_authentication(self) -> bool:
        permissions = self.view.get_permissions()
        return any(not isinstance(permission, AllowAny) for permission in permissions)

    def _accepts_session_cookie(self) -> bool:
        return any(
            isinstance(authenticator, SessionAuthentication)
            for authenticator in self.view.get_authenticators()
        )

    def _is_paginated(self) -> bool:
        return self.method == "GET" and self._get_paginator() is not None

    def _map_serializer(self, serializer, direction, bypass_extensions=False):
        serializer = force_instance(serializer)
        schema = super()._map_serializer(serializer, direction, bypass_extensions)
        if isinstance(serializer, StrictSerializer) and type(serializer).__doc__ is None:
            schema.pop("description", None)  # StrictSerializer's own docstring, not the API's
        if direction == "request" and isinstance(serializer, StrictSerializer):
            properties = schema.setdefault("properties", {})
            for key in sorted(serializer.ignored_keys):
                properties.setdefault(key, {"description": "Read-only: accepted and ignored."})
            schema["additionalProperties"] = False
        return schema
