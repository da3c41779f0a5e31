import io

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_create_api_key_prints_plainly_on_stdout_with_the_key_last():
    out, err = io.StringIO(), io.StringIO()

    call_command("create_api_key", "backend", stdout=out, stderr=err)

    lines = out.getvalue().splitlines()
    assert err.getvalue() == ""
    assert lines[0].startswith("Created API key #") and "'backend'" in lines[0]
    assert lines[-1].startswith("sf_") and " " not in lines[-1]
    assert "\x1b[" not in out.getvalue()
