"""Routes of Settings > Subscription topics and Settings > Users (admin role; included by
web/urls.py)."""

from django.urls import path

from web.views import settings_topics, settings_users

urlpatterns = [
    path("settings/topics/", settings_topics.topic_list_page, name="settings-topics"),
    path("settings/topics/new/", settings_topics.topic_create_page, name="settings-topic-create"),
    path(
        "settings/topics/<int:pk>/edit/",
        settings_topics.topic_edit_page,
        name="settings-topic-edit",
    ),
    path(
        "settings/topics/<int:pk>/delete/",
        settings_topics.topic_delete_page,
        name="settings-topic-delete",
    ),
    path("settings/users/", settings_users.user_list_page, name="settings-users"),
    path("settings/users/new/", settings_users.user_create_page, name="settings-user-create"),
    path("settings/users/<int:pk>/role/", settings_users.user_role_page, name="settings-user-role"),
    path(
        "settings/users/<int:pk>/active/",
        settings_users.user_active_page,
        name="settings-user-active",
    ),
]
