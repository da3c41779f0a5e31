"""Routes of the segment builder (web/views/segment_builder.py; docs/segment-builder.md)."""

from django.urls import path

from web.views import segment_builder as builder

urlpatterns = [
    path("segments/new/", builder.segment_create_page, name="segment-create"),
    path("segments/<int:pk>/edit/", builder.segment_edit_page, name="segment-edit"),
    path(
        "segments/<int:pk>/edit/impact/",
        builder.segment_builder_impact,
        name="segment-builder-impact",
    ),
    path(
        "segments/builder/preview/",
        builder.segment_builder_preview,
        name="segment-builder-preview",
    ),
    path("segments/builder/events/", builder.segment_builder_events, name="segment-builder-events"),
    path(
        "segments/builder/event-properties/",
        builder.segment_builder_event_properties,
        name="segment-builder-event-properties",
    ),
]
