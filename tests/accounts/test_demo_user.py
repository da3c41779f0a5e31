import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from accounts.roles import ADMIN, user_roles

pytestmark = pytest.mark.django_db


def test_the_demo_user_of_make_run_is_an_admin_of_the_web_app():
    call_command("seed_demo", "--contacts", "3", stdout=io.StringIO())

    demo = get_user_model().objects.get(username="demo")

    assert demo.groups.filter(name=ADMIN).exists()
    assert ADMIN in user_roles(demo)
