"""Admin pages: flows and enrollments, email templates and the message log."""

from automation import admin_email, admin_flows, admin_sending  # noqa: F401  (registers the pages)
from automation import admin_layouts  # noqa: F401
