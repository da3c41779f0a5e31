from django.http import HttpRequest
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from contacts.api_keys import api_key_check
from contacts.models import ApiKey

KEYWORD = "Bearer"


class ApiKeyUser:
    """The request.user of an API-key request: authenticated, not a Django user."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False

    def __init__(self, api_key):
        self.api_key = api_key
        self.pk = None

    def __str__(self) -> str:
        return f"api-key:{self.api_key.name}"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = KEYWORD

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Use the header 'Authorization: Bearer <key>'.")
        try:
            raw_key = header[1].decode()
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid API key.") from None
        api_key = api_key_check(raw_key)
        if api_key is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        return ApiKeyUser(api_key), api_key

    def authenticate_header(self, request):
        return self.keyword


def bearer_api_key(request: HttpRequest) -> ApiKey | None:
    """The valid API key of a plain Django request's `Authorization: Bearer <key>`; None for
    anything else (no header, another scheme, malformed, unknown or revoked), which
    ApiKeyAuthentication then answers with its own 401."""
    scheme, _, raw_key = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != KEYWORD.lower() or not raw_key or " " in raw_key:
        return None
    return api_key_check(raw_key)


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "segflow.api.auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "A Segflow API key."}
