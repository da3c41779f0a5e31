"""Admin pages: flows and enrollments, email templates and layouts, the message log and the
sending policy."""

from automation import (  # noqa: F401  (importing registers the pages)
    admin_email,
    admin_flows,
    admin_layouts,
    admin_sending,
)
