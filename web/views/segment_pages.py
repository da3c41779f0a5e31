"""The segment page (/segments/<id>/): its conditions in words, size over time, members and
explain (why a contact is in or out), with the evaluate-now and delete actions."""

import datetime as dt

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.roles import MARKETER, role_required
from contacts.models import Contact
from segflow.errors import InvalidInput
from segments.describe import conditions_describe, describe_names
from segments.describe_outline import conditions_outline
from segments.evaluation import SegmentEvaluationFailed
from segments.explain import explain_contact
from segments.models import Segment, SegmentDailyStats, SegmentMembership
from segments.scheduler import segment_evaluate_now
from segments.selectors import segment_history
from segments.services import segment_delete
from segments.validation import stored_conditions_problem
from web.charts import segment_moves_svg, segment_size_svg
from web.keyset import KeysetPage

MEMBERS_PAGE_SIZE = 25
HISTORY_DAYS = 90
EXPLAIN_CHOICES = 8


def segment_edit_url(pk: int) -> str | None:
    """The builder's edit page, when its routes are installed."""
    try:
        return reverse("segment-edit", args=[pk])
    except NoReverseMatch:
        return None


def _cursor(request, name: str) -> int | None:
    value = request.GET.get(name, "")
    return int(value) if value.isascii() and value.isdigit() else None


def history_days(
    stats: list[SegmentDailyStats], *, today: dt.date
) -> list[tuple[dt.date, int, int, int]]:
    """(day, size, entered, left) for every day from the first stats row to today: a day
    without an evaluation kept the size of the day before and had no moves."""
    if not stats:
        return []
    by_day = {row.day: row for row in stats}
    days, size = [], 0
    day = stats[0].day
    while day <= today:
        row = by_day.get(day)
        if row is not None:
            size = row.size
        days.append((day, size, row.entered if row else 0, row.left if row else 0))
        day += dt.timedelta(days=1)
    return days


def members_page(
    *, segment: Segment, after: int | None, before: int | None, size: int
) -> KeysetPage:
    """Current members by contact id after / before a cursor (web.keyset's contract): the
    page's ids are a range read of the (segment, contact) index of current stays, then its
    contacts by primary key, so a page of a million-member segment costs what one of ten does."""
    stays = SegmentMembership.objects.current().filter(segment=segment)
    if before is not None:
        found = stays.filter(contact_id__lt=before).order_by("-contact_id")
        ids = list(found.values_list("contact_id", flat=True)[: size + 1])
        more_before, more_after = len(ids) > size, True
        ids = list(reversed(ids[:size]))
    else:
        found = stays.filter(contact_id__gt=after) if after is not None else stays
        ids = list(found.order_by("contact_id").values_list("contact_id", flat=True)[: size + 1])
        more_before, more_after = after is not None, len(ids) > size
        ids = ids[:size]
    contacts = list(Contact.objects.filter(pk__in=ids).order_by("pk"))
    return KeysetPage(
        items=contacts,
        next_after=ids[-1] if ids and more_after else None,
        previous_before=ids[0] if ids and more_before else None,
    )


@role_required(MARKETER)
@require_GET
def segment_page(request, pk: int):
    segment = get_object_or_404(Segment, pk=pk)
    now = timezone.now()
    today = now.astimezone(dt.UTC).date()
    names = describe_names(segment.conditions)
    stats = list(segment_history(segment=segment, since=today - dt.timedelta(HISTORY_DAYS - 1)))
    days = history_days(stats, today=today)
    members = members_page(
        segment=segment,
        after=_cursor(request, "after"),
        before=_cursor(request, "before"),
        size=MEMBERS_PAGE_SIZE,
    )
    context = {
        "segment": segment,
        "summary": conditions_describe(conditions=segment.conditions, now=now, names=names),
        "outline": conditions_outline(conditions=segment.conditions, now=now, names=names),
        "days": days,
        "entered_total": sum(entered for _, _, entered, _ in days),
        "left_total": sum(left for _, _, _, left in days),
        "size_chart": segment_size_svg([(d, size) for d, size, _, _ in days]) if days else "",
        "moves_chart": segment_moves_svg([(d, e, left) for d, _, e, left in days]) if days else "",
        "members": members,
        "edit_url": segment_edit_url(segment.pk),
    }
    return render(request, "web/segments/detail.html", context)


def _contacts_for(text: str) -> list[Contact]:
    """A contact id, a full email, or else contacts whose email contains the text."""
    if text.isascii() and text.isdigit():
        return list(Contact.objects.filter(pk=int(text))[:1])
    exact = list(Contact.objects.filter(email=text.lower())[:1])
    if exact:
        return exact
    return list(Contact.objects.filter(email__icontains=text).order_by("email")[:EXPLAIN_CHOICES])


@role_required(MARKETER)
@require_GET
def segment_explain(request, pk: int):
    """HTMX fragment: the conditions with ✓ / ✗ and the contact's values, or why not."""
    segment = get_object_or_404(Segment, pk=pk)
    text = request.GET.get("contact", "").strip()[:254]
    context: dict = {"segment": segment, "text": text}
    if not text:
        context["error"] = "Type a contact's email (or part of it) or its id."
        return render(request, "web/segments/_explain.html", context)
    found = _contacts_for(text)
    if len(found) != 1:
        context["choices"] = found
        if not found:
            context["error"] = f"No contact matches “{text}”."
        return render(request, "web/segments/_explain.html", context)
    (contact,) = found
    problem = stored_conditions_problem(segment.conditions, segment_id=segment.pk)
    if problem:
        context["error"] = f"This segment's conditions cannot be evaluated: {problem}"
        return render(request, "web/segments/_explain.html", context)
    now = timezone.now()
    explained = explain_contact(segment.conditions, contact_id=contact.pk, now=now)
    context |= {
        "contact": contact,
        "result": explained["result"],
        "member": segment.memberships.current().filter(contact=contact).exists(),
        "outline": conditions_outline(conditions=segment.conditions, now=now, explained=explained),
    }
    return render(request, "web/segments/_explain.html", context)


@role_required(MARKETER)
@require_POST
def segment_evaluate_page(request, pk: int):
    """Evaluate now, in the request (as the API's evaluate?wait=true)."""
    segment = get_object_or_404(Segment, pk=pk)
    try:
        result = segment_evaluate_now(segment=segment, now=timezone.now())
    except Segment.DoesNotExist:
        raise Http404("This segment was deleted meanwhile.") from None
    except SegmentEvaluationFailed as failed:
        messages.error(request, f"Evaluation failed: {failed.reason}")
    else:
        messages.success(
            request,
            f"Evaluated: {result.size:,} contacts ({result.entered:,} entered, "
            f"{result.left:,} left).",
        )
    return redirect("segment-detail", pk=segment.pk)


@role_required(MARKETER)
@require_http_methods(["GET", "POST"])
def segment_delete_page(request, pk: int):
    """GET asks for confirmation and names the segments that use this one; POST deletes,
    unless a segment uses it by then (the service's guard decides in its transaction)."""
    segment = get_object_or_404(Segment, pk=pk)
    error = None
    if request.method == "POST":
        try:
            segment_delete(segment=segment)
        except Segment.DoesNotExist:
            messages.info(request, "That segment was already deleted.")
            return redirect("segment-list")
        except InvalidInput as exc:
            error = " ".join(message for listed in exc.errors.values() for message in listed)
        else:
            messages.success(request, f"Segment “{segment.name}” deleted.")
            return redirect("segment-list")
    context = {
        "segment": segment,
        "readers": list(segment.dependents.order_by("name")),
        "error": error,
    }
    return render(request, "web/segments/delete.html", context, status=409 if error else 200)
