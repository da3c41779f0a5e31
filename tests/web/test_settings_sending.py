"""The sending policy page (/settings/sending/, admin role) and its admin page."""

import datetime as dt

import pytest

from automation.models import SendingPolicy

pytestmark = pytest.mark.django_db

URL = "/settings/sending/"
VALID = {
    "frequency_cap_count": "3",
    "frequency_cap_hours": "24",
    "send_window_enabled": "on",
    "send_window_start": "08:00",
    "send_window_end": "20:00",
    "send_window_days": ["1", "2", "3", "4", "5"],
    "default_timezone": "Europe/Paris",
}


def test_an_admin_saves_the_policy_and_sees_it_in_force(admin_client):
    response = admin_client.post(URL, VALID)

    assert response.status_code == 302
    policy = SendingPolicy.objects.get()
    assert (policy.frequency_cap_count, policy.frequency_cap_hours) == (3, 24)
    assert policy.send_window_enabled
    assert (policy.send_window_start, policy.send_window_end) == (dt.time(8), dt.time(20))
    assert policy.send_window_days == [1, 2, 3, 4, 5]
    assert policy.default_timezone == "Europe/Paris"
    page = admin_client.get(URL).content.decode()
    assert "at most 3 marketing emails per contact in any 24 h" in page
    assert "08:00–20:00, Mon–Fri" in page


def test_saving_again_edits_the_one_policy(admin_client):
    admin_client.post(URL, VALID)

    admin_client.post(URL, {**VALID, "frequency_cap_count": "", "send_window_enabled": ""})

    policy = SendingPolicy.objects.get()
    assert (policy.frequency_cap_count, policy.send_window_enabled) == (None, False)
    assert "none" in admin_client.get(URL).content.decode()


def test_the_form_shows_the_saved_values(admin_client):
    admin_client.post(URL, VALID)

    form = admin_client.get(URL).context["form"]

    assert form.initial["send_window_days"] == ["1", "2", "3", "4", "5"]
    assert form.initial["frequency_cap_count"] == 3


def test_an_overnight_window_is_allowed(admin_client):
    response = admin_client.post(
        URL, {**VALID, "send_window_start": "20:00", "send_window_end": "06:00"}
    )

    assert response.status_code == 302
    assert "(overnight)" in admin_client.get(URL).content.decode()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"default_timezone": "Mars/Olympus"}, "default_timezone"),
        ({"default_timezone": "../../etc/passwd"}, "default_timezone"),
        ({"send_window_start": "09:00", "send_window_end": "09:00"}, "send_window_end"),
        ({"send_window_start": ""}, "send_window_start"),
        ({"send_window_end": "25:00"}, "send_window_end"),
        ({"send_window_days": ["8"]}, "send_window_days"),
        ({"frequency_cap_count": "0"}, "frequency_cap_count"),
        ({"frequency_cap_hours": "x"}, "frequency_cap_hours"),
    ],
)
def test_bad_values_are_form_errors_and_nothing_is_saved(admin_client, change, field):
    response = admin_client.post(URL, {**VALID, **change})

    assert response.status_code == 400
    assert list(response.context["form"].errors) == [field]
    assert "Nothing was saved" in response.content.decode()
    assert not SendingPolicy.objects.exists()


def test_a_window_that_is_off_needs_no_times(admin_client):
    response = admin_client.post(
        URL, {**VALID, "send_window_enabled": "", "send_window_start": "", "send_window_end": ""}
    )

    assert response.status_code == 302


def test_a_marketer_can_neither_see_nor_change_the_policy(marketer_client):
    assert marketer_client.get(URL).status_code == 403
    assert marketer_client.post(URL, VALID).status_code == 403
    assert not SendingPolicy.objects.exists()


def test_anonymous_visitors_go_to_the_login_page(client):
    assert client.get(URL).status_code == 302
    assert not SendingPolicy.objects.exists()


def test_the_admin_site_refuses_an_unknown_time_zone(client, django_user_model):
    superuser = django_user_model.objects.create_superuser("root", "root@example.com", "pw-1234")
    client.force_login(superuser)
    fields = {
        "frequency_cap_hours": "24",
        "send_window_days": "[]",
        "default_timezone": "Nowhere/Town",
    }

    response = client.post("/admin/automation/sendingpolicy/add/", fields)

    assert response.status_code == 200
    assert "Not a known IANA time zone name" in response.content.decode()
    assert not SendingPolicy.objects.exists()
    response = client.post(
        "/admin/automation/sendingpolicy/add/", {**fields, "default_timezone": "Asia/Tokyo"}
    )
    assert response.status_code == 302
    assert SendingPolicy.objects.get().default_timezone == "Asia/Tokyo"
    assert client.get("/admin/automation/sendingpolicy/add/").status_code == 403
