"""The automation API: each module lists its own routes."""

from automation.api import flows, messages, reports, templates

urlpatterns = [
    *flows.urlpatterns,
    *templates.urlpatterns,
    *messages.urlpatterns,
    *reports.urlpatterns,
]
