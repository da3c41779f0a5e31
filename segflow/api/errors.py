"""Client errors as JSON: `{"detail": ..., "errors": [{"path": "fields.plan", "message": ...}]}`.

Validation errors name the JSON path of each bad value, so every endpoint answers
bad input the same way.
"""

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, JsonResponse
from django.urls import Resolver404, resolve
from django.views.defaults import page_not_found
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from segflow.errors import InvalidInput


def flatten_errors(detail, path: str = "") -> list[dict[str, str]]:
    """DRF's nested error detail -> [{"path", "message"}], with "a.b[2].c" paths."""
    if isinstance(detail, dict):
        flat = []
        for key, value in detail.items():
            if key in ("non_field_errors", "__all__"):
                child = path
            elif isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
                child = f"{path}[{key}]"
            else:
                child = f"{path}.{key}" if path else str(key)
            flat.extend(flatten_errors(value, child))
        return flat
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return [{"path": path, "message": str(item)} for item in detail]
        flat = []
        for index, item in enumerate(detail):
            if item in ({}, []):
                continue
            flat.extend(flatten_errors(item, f"{path}[{index}]"))
        return flat
    return [{"path": path, "message": str(detail)}]


def _bad_request(errors: list[dict[str, str]]) -> Response:
    return Response(
        {"detail": "Invalid input.", "errors": errors}, status=status.HTTP_400_BAD_REQUEST
    )


def _too_large() -> Response:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE / (1024 * 1024)
    message = f"The request body is larger than the limit of {limit:g} MiB."
    return Response(
        {"detail": message, "errors": [{"path": "", "message": message}]},
        status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    )


def exception_handler(exc, context):
    if isinstance(exc, RequestDataTooBig):  # raised by Django as DRF reads the body
        return _too_large()
    if isinstance(exc, InvalidInput):
        return _bad_request(
            [{"path": path, "message": msg} for path, msgs in exc.errors.items() for msg in msgs]
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.ValidationError):
        return _bad_request(flatten_errors(exc.detail))
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, exceptions.ParseError):
        response.data = {
            "detail": str(exc.detail),
            "errors": [{"path": "", "message": str(exc.detail)}],
        }
    return response


def not_found(request, exception=None):
    """Django's 404 handler: URLs under /api/ that match no route (`/contacts/abc`) answer
    in the API's JSON shape too."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"detail": _not_found_hint(request.path)}, status=status.HTTP_404_NOT_FOUND
        )
    return page_not_found(request, exception)


def _not_found_hint(path: str) -> str:
    """Names the URL meant when the only mistake is a trailing slash (`/api/v1/contacts/`)."""
    without_slash = path.rstrip("/")
    if without_slash == path:
        return "Not found."
    try:
        resolve(without_slash)
    except Resolver404:
        return "Not found."
    return f"Not found. API URLs have no trailing slash: {without_slash}"
