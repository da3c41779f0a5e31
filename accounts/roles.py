"""Roles of the web app, held as Django groups (created by accounts/migrations/0001_roles):

- marketer: contacts, custom fields, segments, imports (later flows and templates);
- admin: everything a marketer does, plus settings (API keys, users, topics).

A superuser counts as an admin, so `createsuperuser` gives a working login at once.
"""

from functools import wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import resolve_url

MARKETER = "marketer"
ADMIN = "admin"
ROLES = (MARKETER, ADMIN)
# What each role may also do: an admin is a marketer too.
_IMPLIES = {ADMIN: {ADMIN, MARKETER}, MARKETER: {MARKETER}}


def user_roles(user) -> frozenset[str]:
    """The roles of `user`, read once per request (cached on the user object)."""
    if not user.is_authenticated or not user.is_active:
        return frozenset()
    cached = getattr(user, "_segflow_roles", None)
    if cached is None:
        if user.is_superuser:
            groups = {ADMIN}
        else:
            groups = set(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
        cached = frozenset().union(*(_IMPLIES[name] for name in groups))
        user._segflow_roles = cached
    return cached


def user_has_role(user, role: str) -> bool:
    return role in user_roles(user)


def role_required(role: str):
    """View decorator: anonymous users go to the login page, users without `role` get 403."""
    if role not in ROLES:
        raise ValueError(f"Unknown role {role!r}")

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.is_authenticated:
                if getattr(request, "htmx", False):
                    # A fragment request (session expired): the whole page goes to login.
                    return HttpResponse(
                        status=204, headers={"HX-Redirect": resolve_url(settings.LOGIN_URL)}
                    )
                return redirect_to_login(request.get_full_path())
            if not user_has_role(request.user, role):
                raise PermissionDenied(f"This page needs the {role} role.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


class RoleRequiredMixin:
    """Class-based views: set `role`; same behaviour as role_required."""

    role = MARKETER

    @classmethod
    def as_view(cls, **initkwargs):
        return role_required(cls.role)(super().as_view(**initkwargs))
