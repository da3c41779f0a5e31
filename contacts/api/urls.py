from django.urls import path

from contacts.api import contacts, events, fields, imports

urlpatterns = [
    path("contacts", contacts.ContactListApi.as_view(), name="api-contacts"),
    path("contacts/<int:pk>", contacts.ContactDetailApi.as_view(), name="api-contact"),
    path("fields", fields.FieldListApi.as_view(), name="api-fields"),
    path("fields/<slug:key>", fields.FieldDetailApi.as_view(), name="api-field"),
    path("events", events.EventListApi.as_view(), name="api-events"),
    path("events/batch", events.EventBatchApi.as_view(), name="api-events-batch"),
    path("imports", imports.ContactImportListApi.as_view(), name="api-imports"),
    path("imports/<int:pk>", imports.ContactImportDetailApi.as_view(), name="api-import"),
]
