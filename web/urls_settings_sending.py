"""Routes of the sending policy page (web/views/settings_sending.py), included by web/urls.py."""

from django.urls import path

from web.views import settings_sending

urlpatterns = [
    path("settings/sending/", settings_sending.sending_settings_page, name="settings-sending"),
]
