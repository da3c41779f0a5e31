"""Routes of the segment page, comparison and export (web/views/segment_pages.py,
segments.py, segment_export.py; docs/web-ui.md)."""

from django.urls import path

from web.views import segment_export, segment_pages, segments

urlpatterns = [
    path("segments/compare/", segments.segment_compare_page, name="segment-compare"),
    path("segments/<int:pk>/", segment_pages.segment_page, name="segment-detail"),
    path("segments/<int:pk>/explain/", segment_pages.segment_explain, name="segment-explain"),
    path(
        "segments/<int:pk>/evaluate/",
        segment_pages.segment_evaluate_page,
        name="segment-evaluate",
    ),
    path("segments/<int:pk>/delete/", segment_pages.segment_delete_page, name="segment-delete"),
    path("segments/<int:pk>/export.csv", segment_export.segment_export_csv, name="segment-export"),
]
