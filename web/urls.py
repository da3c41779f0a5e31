from django.urls import include, path

from web.views import contacts, dashboard, fields, segments, settings

urlpatterns = [
    path("", dashboard.dashboard_page, name="dashboard"),
    path("dashboard/events/", dashboard.dashboard_events, name="dashboard-events"),
    path("contacts/", contacts.contact_list_page, name="contact-list"),
    path("contacts/<int:pk>/", contacts.contact_page, name="contact-detail"),
    path("contacts/<int:pk>/edit/", contacts.contact_edit_page, name="contact-edit"),
    path("contacts/<int:pk>/timeline/", contacts.contact_timeline_page, name="contact-timeline"),
    path("fields/", fields.field_list_page, name="field-list"),
    path("fields/new/", fields.field_create_page, name="field-create"),
    path("fields/<int:pk>/edit/", fields.field_edit_page, name="field-edit"),
    path("fields/<int:pk>/delete/", fields.field_delete_page, name="field-delete"),
    path("segments/", segments.segment_list_page, name="segment-list"),
    path("", include("web.urls_builder")),
    path("", include("web.urls_segment_pages")),
    path("", include("web.urls_imports")),
    path("", include("web.urls_settings_admin")),
    path("", include("web.urls_settings_sending")),
    path("settings/", settings.settings_page, name="settings"),
    path("settings/api-keys/", settings.api_key_create_page, name="api-key-create"),
    path(
        "settings/api-keys/<int:pk>/revoke/",
        settings.api_key_revoke_page,
        name="api-key-revoke",
    ),
]
