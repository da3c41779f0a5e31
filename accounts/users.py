"""Writes to the web app's users from Settings: create one with a role, change its role,
deactivate or reactivate it. The workspace always keeps an active admin: the last one can be
neither demoted nor deactivated (nobody could reach Settings again)."""

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from accounts.roles import ADMIN, ROLES, user_roles
from accounts.services import user_role_set
from segflow.errors import ErrorCollector, InvalidInput


def user_role(user) -> str | None:
    """The highest of the web app's roles `user` holds (admin over marketer), or None."""
    roles = user_roles(user) if user.is_active else _roles_ignoring_active(user)
    return ADMIN if ADMIN in roles else (next(iter(roles)) if roles else None)


def _roles_ignoring_active(user) -> frozenset[str]:
    if user.is_superuser:
        return frozenset({ADMIN})
    return frozenset(user.groups.filter(name__in=ROLES).values_list("name", flat=True))


def user_create(*, username: str, email: str, password: str, role: str):
    """A new active user with `role`; InvalidInput names each bad value (a username taken,
    an invalid email, a password Django's validators refuse, an unknown role)."""
    User = get_user_model()
    errors = ErrorCollector()
    username = username.strip()
    if not username:
        errors.add("username", "A username is needed.")
    elif User.objects.filter(username__iexact=username).exists():
        errors.add("username", "A user with this username exists already.")
    if email:
        try:
            validate_email(email)
        except ValidationError:
            errors.add("email", "Enter a valid email address.")
    if role not in ROLES:
        errors.add("role", f"Choose one of: {', '.join(ROLES)}.")
    try:
        validate_password(password, user=User(username=username, email=email))
    except ValidationError as exc:
        for message in exc.messages:
            errors.add("password", message)
    errors.raise_if_any()
    try:
        with transaction.atomic():
            user = User.objects.create_user(username=username, email=email, password=password)
            user_role_set(user=user, role=role)
    except IntegrityError:
        raise InvalidInput.single("username", "A user with this username exists already.") from None
    return user


def _other_active_admins(user) -> bool:
    User = get_user_model()
    others = User.objects.filter(is_active=True).exclude(pk=user.pk)
    return others.filter(is_superuser=True).exists() or others.filter(groups__name=ADMIN).exists()


def user_role_change(*, user, role: str) -> None:
    if role not in ROLES:
        raise InvalidInput.single("role", f"Choose one of: {', '.join(ROLES)}.")
    with transaction.atomic():
        if role != ADMIN and user_role(user) == ADMIN and not _other_active_admins(user):
            raise InvalidInput.single("role", "The last active admin cannot lose the role.")
        if user.is_superuser and role != ADMIN:
            raise InvalidInput.single(
                "role", "A superuser is always an admin; change it in the Django admin."
            )
        user_role_set(user=user, role=role)


def user_active_set(*, user, active: bool) -> None:
    """Deactivate (the user can no longer log in; its sessions end at their next request)
    or reactivate."""
    with transaction.atomic():
        if not active and user_role(user) == ADMIN and not _other_active_admins(user):
            raise InvalidInput.single("is_active", "The last active admin cannot be deactivated.")
        user.is_active = active
        user.save(update_fields=["is_active"])
