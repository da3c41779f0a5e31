import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache

from accounts.roles import ADMIN, MARKETER
from accounts.services import user_role_set

PASSWORD = "correct-horse-battery-9"


@pytest.fixture(autouse=True)
def _fresh_cache():
    """The dashboard caches its event counts; each test starts without them."""
    cache.clear()
    yield
    cache.clear()


def user_with_role(role: str | None, username: str):
    user = get_user_model().objects.create_user(username=username, password=PASSWORD)
    if role is not None:
        user_role_set(user=user, role=role)
    return user


@pytest.fixture
def marketer(db):
    return user_with_role(MARKETER, "marketer")


@pytest.fixture
def admin_user(db):
    return user_with_role(ADMIN, "boss")


@pytest.fixture
def marketer_client(client, marketer):
    client.force_login(marketer)
    return client


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client
