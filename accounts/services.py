"""Writes to users' roles."""

from django.contrib.auth.models import Group

from accounts.roles import ROLES


def user_role_set(*, user, role: str) -> None:
    """Give `user` exactly `role` among the web app's roles (other groups are kept)."""
    if role not in ROLES:
        raise ValueError(f"Unknown role {role!r}")
    groups = {group.name: group for group in Group.objects.filter(name__in=ROLES)}
    user.groups.remove(*[group for name, group in groups.items() if name != role])
    user.groups.add(groups[role])
    user.__dict__.pop("_segflow_roles", None)
