"""Settings > Users: admins create users with a role, change roles and deactivate users; the
last active admin stays one; marketers get 403."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.roles import ADMIN, MARKETER, user_roles
from tests.web.conftest import user_with_role

pytestmark = pytest.mark.django_db

User = get_user_model()
NEW = {
    "username": "mia",
    "email": "mia@example.com",
    "password": "quiet-river-7401",
    "role": "marketer",
}


def fresh(user):
    return User.objects.get(pk=user.pk)


@pytest.mark.parametrize(
    "path",
    [
        "/settings/users/",
        "/settings/users/new/",
        "/settings/users/{pk}/role/",
        "/settings/users/{pk}/active/",
    ],
)
def test_marketers_get_403_and_change_nothing(marketer_client, marketer, path):
    assert (
        marketer_client.post(path.format(pk=marketer.pk), {**NEW, "role": ADMIN}).status_code == 403
    )
    assert user_roles(fresh(marketer)) == {MARKETER}
    assert not User.objects.filter(username="mia").exists()


def test_the_list_shows_each_user_with_role_and_state(admin_client, admin_user):
    user_with_role(MARKETER, "max")
    inactive = user_with_role(None, "old")
    inactive.is_active = False
    inactive.save()

    response = admin_client.get("/settings/users/")

    roles = {row["user"].username: row["role"] for row in response.context["rows"]}
    assert roles == {"boss": ADMIN, "max": MARKETER, "old": None}
    assert "deactivated" in response.content.decode()


def test_creating_a_user_who_can_then_log_in(admin_client):
    response = admin_client.post("/settings/users/new/", NEW)

    assert response.status_code == 302
    user = User.objects.get(username="mia")
    assert (user.email, user_roles(user)) == ("mia@example.com", {MARKETER})
    assert Client().login(username="mia", password="quiet-river-7401")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"username": ""}, "username"),
        ({"username": "BOSS"}, "username"),
        ({"email": "not-an-email"}, "email"),
        ({"password": "12345678"}, "password"),
        ({"password": "mia"}, "password"),
        ({"role": "owner"}, "role"),
    ],
)
def test_bad_user_input_is_a_form_error(admin_client, changes, field):
    response = admin_client.post("/settings/users/new/", {**NEW, **changes})

    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert not User.objects.filter(username__iexact=NEW["username"]).exists()


def test_changing_a_role(admin_client):
    max_ = user_with_role(MARKETER, "max")

    admin_client.post(f"/settings/users/{max_.pk}/role/", {"role": ADMIN})
    assert user_roles(fresh(max_)) == {ADMIN, MARKETER}
    admin_client.post(f"/settings/users/{max_.pk}/role/", {"role": MARKETER})
    assert user_roles(fresh(max_)) == {MARKETER}


def test_the_last_active_admin_keeps_the_role(admin_client, admin_user):
    response = admin_client.post(
        f"/settings/users/{admin_user.pk}/role/", {"role": MARKETER}, follow=True
    )

    assert "The last active admin cannot lose the role." in response.content.decode()
    assert ADMIN in user_roles(fresh(admin_user))


def test_deactivating_and_reactivating_a_user(admin_client):
    max_ = user_with_role(MARKETER, "max")
    client = Client()
    client.force_login(max_)
    assert client.get("/contacts/").status_code == 200

    admin_client.post(f"/settings/users/{max_.pk}/active/", {"active": "0"})

    assert fresh(max_).is_active is False
    assert client.get("/contacts/").status_code == 302  # the session no longer counts
    admin_client.post(f"/settings/users/{max_.pk}/active/", {"active": "1"})
    assert fresh(max_).is_active is True


def test_an_admin_cannot_deactivate_themselves(admin_client, admin_user):
    response = admin_client.post(
        f"/settings/users/{admin_user.pk}/active/", {"active": "0"}, follow=True
    )

    assert "You cannot deactivate yourself." in response.content.decode()
    assert fresh(admin_user).is_active is True


def test_the_last_active_admin_cannot_be_deactivated_by_another_path(admin_user):
    from accounts.users import user_active_set
    from segflow.errors import InvalidInput

    with pytest.raises(InvalidInput):
        user_active_set(user=admin_user, active=False)
