from django.shortcuts import render
from django.utils import timezone

from accounts.roles import MARKETER, role_required
from web import dashboard
from web.charts import events_per_day_svg


@role_required(MARKETER)
def dashboard_page(request):
    """Counts that indexes answer at once; the event chart follows (dashboard_events)."""
    now = timezone.now()
    context = {
        "contacts": dashboard.contacts_summary(now=now),
        "movers": dashboard.segments_biggest_movement(now=now),
    }
    return render(request, "web/dashboard.html", context)


@role_required(MARKETER)
def dashboard_events(request):
    """Events today, in 30 days, per day: loaded by the dashboard once it shows."""
    days = dashboard.events_per_day(now=timezone.now())
    context = {
        "events_today": days[-1][1],
        "events_30_days": sum(count for _, count in days),
        "events_chart": events_per_day_svg(days),
    }
    return render(request, "web/_dashboard_events.html", context)
