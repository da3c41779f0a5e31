"""Admin pages: flows and enrollments, email templates and the message log."""

from automation import admin_email, admin_flows  # noqa: F401  (registers the pages)
