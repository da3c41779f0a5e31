"""Routes of the CSV import pages (included by web/urls.py)."""

from django.urls import path

from web.views import imports

urlpatterns = [
    path("contacts/import/", imports.import_upload_page, name="contact-import"),
    path("contacts/import/<int:pk>/", imports.import_detail_page, name="contact-import-detail"),
    path(
        "contacts/import/<int:pk>/errors.csv",
        imports.import_errors_download,
        name="contact-import-errors",
    ),
]
