"""Fixtures of the marketer web app's browser tests (import them into a test module)."""

import pytest
from django.contrib.auth import get_user_model

from accounts.roles import MARKETER
from accounts.services import user_role_set

MARKETER_PASSWORD = "correct-horse-battery-9"


@pytest.fixture
def marketer(transactional_db):
    user = get_user_model().objects.create_user(username="mia", password=MARKETER_PASSWORD)
    user_role_set(user=user, role=MARKETER)
    return user


def log_in(page, server_url: str, username: str, password: str) -> None:
    page.goto(f"{server_url}/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{server_url}/")


@pytest.fixture
def marketer_page(page, server_url, marketer):
    log_in(page, server_url, marketer.username, MARKETER_PASSWORD)
    return page
