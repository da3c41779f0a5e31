"""Browser tests: Debian's Chromium driven by Playwright against pytest-django's live server.

Playwright cannot download its own browser here, so the tests use /usr/bin/chromium; without
it they fail (never skip) with how to install it.
"""

import os
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from contacts.api_keys import api_key_create

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(os.environ.get("E2E_SCREENSHOTS", "/tmp/segflow-e2e"))
STAFF_PASSWORD = "correct-horse-battery-9"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"The browser tests need Debian's Chromium at {CHROMIUM}. Install it with "
            "`make browser` (apt-get install -y chromium).",
            pytrace=False,
        )
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture
def server_url(live_server, transactional_db) -> str:
    return live_server.url


@pytest.fixture
def staff_user(transactional_db):
    return get_user_model().objects.create_user(
        username="marketer", password=STAFF_PASSWORD, is_staff=True, is_superuser=True
    )


@pytest.fixture
def api_headers(transactional_db) -> dict[str, str]:
    _, raw_key = api_key_create(name="e2e")
    return {"Authorization": f"Bearer {raw_key}"}


@pytest.fixture
def logged_in_page(page, server_url, staff_user):
    page.goto(f"{server_url}/admin/login/")
    page.fill("#id_username", staff_user.username)
    page.fill("#id_password", STAFF_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{server_url}/admin/")
    return page


@pytest.fixture
def screenshot(page, request):
    """screenshot("name") saves the page as PNG for a human to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(name: str, *, full_page: bool = True) -> Path:
        path = SCREENSHOTS / f"{request.node.originalname}-{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return take
