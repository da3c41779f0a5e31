"""The segment builder (docs/segment-builder.md): the page at /segments/new/ and
/segments/<id>/edit/, and the JSON endpoints its script calls (session login and CSRF, like
every page): live preview, enter/leave impact, event names, event property keys.

Saving goes through segments.services with the same validation as the API; an edit that
changes the conditions is saved only once its impact was shown for exactly those conditions.
"""

import hashlib
import json

from django import forms
from django.contrib import messages
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts.roles import MARKETER, role_required
from segflow.errors import InvalidInput
from segments.models import Segment
from segments.services import segment_create, segment_update
from web.segment_builder_catalog import builder_catalog, event_names_seen, event_property_keys
from web.segment_builder_preview import builder_issues, builder_preview, segment_change_impact

NEW_TREE: dict = {"all": []}


class SegmentBuilderForm(forms.Form):
    name = forms.CharField(max_length=200, widget=forms.TextInput(attrs={"class": "form-control"}))
    description = forms.CharField(
        max_length=5000,
        required=False,
        widget=forms.Textarea(attrs={"class": "form-control", "rows": 2}),
    )
    conditions = forms.CharField(widget=forms.HiddenInput)
    confirmed = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean_conditions(self):
        try:
            return json.loads(self.cleaned_data["conditions"])
        except (ValueError, RecursionError):
            raise forms.ValidationError(
                "The conditions could not be read; reload the page."
            ) from None


def conditions_digest(conditions: object) -> str:
    """Names one tree whatever its key order: what an impact confirmation was shown for."""
    canonical = json.dumps(conditions, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _error_list(errors: dict[str, list[str]]) -> list[dict[str, str]]:
    return [{"path": path, "message": msg} for path, msgs in errors.items() for msg in msgs]


def _segment_url(segment: Segment) -> str:
    return reverse("segment-detail", args=[segment.pk])


def _builder_page(request, *, form, segment, conditions, errors=(), impact=None, status=200):
    data = {
        **builder_catalog(segment_id=segment.pk if segment else None),
        "segment": segment.pk if segment else None,
        "conditions": conditions,
        "original": segment.conditions if segment else None,
        "errors": list(errors),
        "urls": {
            "preview": reverse("segment-builder-preview"),
            "events": reverse("segment-builder-events"),
            "properties": reverse("segment-builder-event-properties"),
            "contact": reverse("contact-detail", args=[0]).replace("/0/", "/{id}/"),
        },
    }
    context = {
        "form": form,
        "segment": segment,
        "builder": data,
        "impact": impact,
        "cancel_url": _segment_url(segment) if segment else reverse("segment-list"),
    }
    return render(request, "web/segments/builder.html", context, status=status)


def _builder_view(request, segment: Segment | None):
    if request.method != "POST":
        initial = {
            "name": segment.name if segment else "",
            "description": segment.description if segment else "",
        }
        conditions = segment.conditions if segment else NEW_TREE
        form = SegmentBuilderForm(initial={**initial, "conditions": json.dumps(conditions)})
        return _builder_page(request, form=form, segment=segment, conditions=conditions)

    form = SegmentBuilderForm(request.POST)
    if not form.is_valid():
        try:
            conditions = json.loads(request.POST.get("conditions") or "null")
        except (ValueError, RecursionError):
            conditions = None
        conditions = conditions if isinstance(conditions, dict) else NEW_TREE
        return _builder_page(request, form=form, segment=segment, conditions=conditions, status=400)
    data = form.cleaned_data
    conditions = data["conditions"]
    segment_id = segment.pk if segment else None
    issues = builder_issues(conditions, segment_id=segment_id)
    if issues:
        form.add_error(None, f"The conditions have {len(issues)} issue(s): see the flagged rows.")
        if not isinstance(conditions, dict):  # not a tree the builder can show
            conditions = NEW_TREE
        return _builder_page(
            request, form=form, segment=segment, conditions=conditions, errors=issues, status=400
        )
    changed = segment is not None and conditions != segment.conditions
    digest = conditions_digest(conditions)
    if changed and data["confirmed"] != digest:
        impact = {
            **segment_change_impact(segment=segment, conditions=conditions, now=timezone.now()),
            "digest": digest,
        }
        return _builder_page(
            request, form=form, segment=segment, conditions=conditions, impact=impact
        )
    fields = {"name": data["name"], "description": data["description"]}
    try:
        if segment is None:
            segment = segment_create(conditions=conditions, **fields)
        else:
            segment = segment_update(segment=segment, conditions=conditions, **fields)
    except Segment.DoesNotExist:
        messages.error(request, "This segment was deleted meanwhile: nothing was saved.")
        return redirect("segment-list")
    except InvalidInput as exc:
        errors = _error_list(exc.errors)
        for error in errors:
            if error["path"] in ("name", "description"):
                form.add_error(error["path"], error["message"])
        form.add_error(None, "Nothing was saved: see the flagged rows.")
        return _builder_page(
            request, form=form, segment=segment, conditions=conditions, errors=errors, status=400
        )
    messages.success(request, f"Segment “{segment.name}” saved; its members are being counted.")
    return redirect(_segment_url(segment))


@role_required(MARKETER)
def segment_create_page(request):
    return _builder_view(request, None)


@role_required(MARKETER)
def segment_edit_page(request, pk: int):
    return _builder_view(request, get_object_or_404(Segment, pk=pk))


def _bad_request(message: str, path: str = "") -> JsonResponse:
    return JsonResponse(
        {"detail": message, "errors": [{"path": path, "message": message}]}, status=400
    )


def _json_body(request) -> dict | None:
    try:
        body = json.loads(request.body or b"null")
    except (ValueError, RecursionError, RequestDataTooBig):
        return None
    return body if isinstance(body, dict) else None


def _segment_id(body: dict) -> int | None:
    value = body.get("segment")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@role_required(MARKETER)
@require_POST
def segment_builder_preview(request):
    """{"conditions": tree, "segment": id?} -> count and sample of the tree's valid part,
    its issues (400 when there are any), and a summary in words."""
    body = _json_body(request)
    if body is None or "conditions" not in body:
        return _bad_request('The body must be JSON: {"conditions": {...}}.', "conditions")
    contact_url = reverse("contact-detail", args=[0])
    preview = builder_preview(
        conditions=body["conditions"], segment_id=_segment_id(body), now=timezone.now()
    )
    payload = {
        "count": preview.count,
        "counted": preview.counted,
        "summary": preview.summary,
        "errors": preview.errors,
        "sample": [
            {
                "id": contact.pk,
                "email": contact.email or "",
                "name": " ".join(filter(None, [contact.first_name, contact.last_name])),
                "url": contact_url.replace("/0/", f"/{contact.pk}/"),
            }
            for contact in preview.sample
        ],
    }
    if preview.errors:
        payload["detail"] = "Invalid input."
    return JsonResponse(payload, status=400 if preview.errors else 200)


@role_required(MARKETER)
@require_POST
def segment_builder_impact(request, pk: int):
    """{"conditions": tree} -> how many contacts saving it would bring in and take out."""
    segment = get_object_or_404(Segment, pk=pk)
    body = _json_body(request)
    if body is None or "conditions" not in body:
        return _bad_request('The body must be JSON: {"conditions": {...}}.', "conditions")
    issues = builder_issues(body["conditions"], segment_id=segment.pk)
    if issues:
        return JsonResponse({"detail": "Invalid input.", "errors": issues}, status=400)
    impact = segment_change_impact(
        segment=segment, conditions=body["conditions"], now=timezone.now()
    )
    return JsonResponse(impact)


@role_required(MARKETER)
@require_GET
def segment_builder_events(request):
    return JsonResponse({"names": event_names_seen()})


@role_required(MARKETER)
@require_GET
def segment_builder_event_properties(request):
    name = request.GET.get("event", "")
    if not name.strip():
        return _bad_request("Required: the event name.", "event")
    return JsonResponse({"event": name, "properties": event_property_keys(name=name)})
