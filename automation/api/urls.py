"""The automation API: each module lists its own routes."""

from automation.api import flows, layouts, messages, reports, templates

urlpatterns = [
    *flows.urlpatterns,
    *templates.urlpatterns,
    *layouts.urlpatterns,
    *messages.urlpatterns,
    *reports.urlpatterns,
]
