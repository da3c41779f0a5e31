from accounts.roles import ADMIN, MARKETER, user_has_role


def roles(request) -> dict:
    """`is_marketer` / `is_admin` for the navigation bar."""
    user = getattr(request, "user", None)
    if user is None:
        return {"is_marketer": False, "is_admin": False}
    return {"is_marketer": user_has_role(user, MARKETER), "is_admin": user_has_role(user, ADMIN)}
