from django.urls import path

from contacts.api import contacts, events, fields, imports, subscriptions, topics

urlpatterns = [
    path("contacts", contacts.ContactListApi.as_view(), name="api-contacts"),
    path("contacts/<int:pk>", contacts.ContactDetailApi.as_view(), name="api-contact"),
    path(
        "contacts/<int:pk>/subscriptions",
        subscriptions.ContactSubscriptionsApi.as_view(),
        name="api-contact-subscriptions",
    ),
    path("topics", topics.TopicListApi.as_view(), name="api-topics"),
    path("topics/<str:key>", topics.TopicDetailApi.as_view(), name="api-topic"),
    path("fields", fields.FieldListApi.as_view(), name="api-fields"),
    path("fields/<slug:key>", fields.FieldDetailApi.as_view(), name="api-field"),
    path("events", events.EventListApi.as_view(), name="api-events"),
    path("events/batch", events.EventBatchApi.as_view(), name="api-events-batch"),
    path("imports", imports.ContactImportListApi.as_view(), name="api-imports"),
    path("imports/<int:pk>", imports.ContactImportDetailApi.as_view(), name="api-import"),
]
