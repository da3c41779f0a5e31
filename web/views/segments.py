"""The segment list (/segments/) and the comparison of segments (/segments/compare/)."""

from urllib.parse import urlencode

from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.roles import MARKETER, role_required
from segments.compare import (
    MAX_COMPARED,
    CompareInputError,
    compare_ids_parse,
    segments_compare,
    segments_for_compare,
)
from segments.describe import conditions_describe_short, describe_names
from segments.models import Segment
from web.charts import segments_compare_svg
from web.segment_builder_catalog import event_names_seen

EVENT_NAME_MAX_LENGTH = 200


def _url_or_none(name: str, *args) -> str | None:
    """A page of the segment builder, when its routes are installed."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


@role_required(MARKETER)
@require_GET
def segment_list_page(request):
    segments = list(
        Segment.objects.only(
            "id",
            "name",
            "description",
            "conditions",
            "size",
            "last_evaluated_at",
            "failed_at",
            "updated_at",
        )
    )
    now = timezone.now()
    # One set of name reads for every segment's words.
    names = describe_names({"any": [segment.conditions for segment in segments]})
    rows = [
        {
            "segment": segment,
            "words": conditions_describe_short(conditions=segment.conditions, now=now, names=names),
            "edit_url": _url_or_none("segment-edit", segment.pk),
        }
        for segment in segments
    ]
    context = {
        "rows": rows,
        "create_url": _url_or_none("segment-create"),
        "max_compared": MAX_COMPARED,
    }
    return render(request, "web/segments/list.html", context)


def _compare_charts(comparison) -> dict[str, str]:
    names = [row.segment.name for row in comparison.rows]
    charts = {
        "activity_chart": segments_compare_svg(
            names,
            [
                ("Opened an email", [row.opened_percent for row in comparison.rows]),
                ("Clicked in an email", [row.clicked_percent for row in comparison.rows]),
            ],
            percent=True,
        )
    }
    if comparison.event_name:
        charts["event_chart"] = segments_compare_svg(
            names,
            [
                (
                    f"{comparison.event_name} per member",
                    [row.events_per_member for row in comparison.rows],
                )
            ],
            percent=False,
        )
    return charts


@role_required(MARKETER)
@require_GET
def segment_compare_page(request):
    raw = request.GET.getlist("ids")
    event_name = request.GET.get("event", "").strip()[:EVENT_NAME_MAX_LENGTH] or None
    if len(raw) > 1:  # checkboxes send ids=1&ids=2: one canonical address, ids=1,2
        query = {"ids": ",".join(raw)}
        if event_name:
            query["event"] = event_name
        return redirect(f"{reverse('segment-compare')}?{urlencode(query)}")
    context: dict = {"max_compared": MAX_COMPARED, "event_name": event_name}
    try:
        segments = segments_for_compare(ids=compare_ids_parse(raw))
    except CompareInputError as exc:
        context["error"] = str(exc)
        return render(request, "web/segments/compare.html", context, status=400)
    comparison = segments_compare(segments=segments, now=timezone.now(), event_name=event_name)
    context |= {
        "comparison": comparison,
        "ids": ",".join(str(segment.pk) for segment in segments),
        "event_names": event_names_seen(),
        **_compare_charts(comparison),
    }
    return render(request, "web/segments/compare.html", context)
