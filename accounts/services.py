"""Writes to users' roles."""

from django.contrib.auth.models import Group

from accounts.roles import ROLES


def user_role_set(*, user, role: str) -> None:
    """Give `user` exactly `role` among the web app's roles (other groups are kept)."""
    if role not in ROLES:
        raise ValueError(f"Unknown role {role!r}")
    # The groups come with accounts' migration; made here if deleted since (or flushed).
    group, _ = Group.objects.get_or_create(name=role)
    user.groups.remove(*Group.objects.filter(name__in=ROLES).exclude(pk=group.pk))
    user.groups.add(group)
    user.__dict__.pop("_segflow_roles", None)
