from django.shortcuts import render
from django.utils import timezone

from accounts.roles import MARKETER, role_required
from web import dashboard
from web.charts import events_per_day_svg


@role_required(MARKETER)
def dashboard_page(request):
    now = timezone.now()
    days = dashboard.events_per_day(now=now)
    context = {
        "contacts": dashboard.contacts_summary(now=now),
        "events_today": days[-1][1],
        "events_30_days": sum(count for _, count in days),
        "movers": dashboard.segments_biggest_movement(now=now),
        "events_chart": events_per_day_svg(days),
    }
    return render(request, "web/dashboard.html", context)
