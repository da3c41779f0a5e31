"""Writes to email templates: every part must parse, and a template a flow may still send
cannot be deleted."""

from collections.abc import Iterator

from django.db import IntegrityError, transaction
from django.db.models import Q

from automation.models import (
    EmailLayout,
    EmailTemplate,
    Enrollment,
    EnrollmentState,
    Flow,
    FlowStatus,
    FlowVersion,
)
from automation.rendering import PARTS, TemplateRenderError, template_compile
from segflow.errors import ErrorCollector, InvalidInput


class TemplateInUse(Exception):
    """The template is referenced by a flow that may still send it."""

    def __init__(self, flows: list[Flow]):
        self.flows = flows
        names = ", ".join(f"'{flow.name}' ({flow.pk})" for flow in flows)
        super().__init__(f"Flows still send this template: {names}.")


def template_parts_check(values: dict) -> None:
    """Every given part parses; a syntax error is a 400 at that part with its line."""
    errors = ErrorCollector()
    for part in PARTS:
        source = values.get(part)
        if not source:
            continue
        try:
            template_compile(source, part=part)
        except TemplateRenderError as exc:
            errors.add(part, f"{exc.message} (line {exc.line})" if exc.line else exc.message)
    errors.raise_if_any()


def _saved(template: EmailTemplate) -> EmailTemplate:
    try:
        with transaction.atomic():
            template.save()
    except IntegrityError:
        raise InvalidInput.single("name", "Another template has this name.") from None
    return template


def template_create(
    *,
    name: str,
    subject: str,
    html: str,
    text: str = "",
    transactional: bool = False,
    layout: EmailLayout | None = None,
    track_opens: bool = True,
    track_clicks: bool = True,
) -> EmailTemplate:
    values = {"subject": subject, "html": html, "text": text}
    template_parts_check(values)
    options = {"layout": layout, "track_opens": track_opens, "track_clicks": track_clicks}
    return _saved(EmailTemplate(name=name, transactional=transactional, **values, **options))


def template_update(*, template: EmailTemplate, **changes) -> EmailTemplate:
    """Change the given fields (name, subject, html, text, transactional, layout,
    track_opens, track_clicks)."""
    template_parts_check(changes)
    for key, value in changes.items():
        setattr(template, key, value)
    return _saved(template)


def _template_ids(steps: list) -> Iterator[int]:
    for step in steps if isinstance(steps, list) else []:
        if not isinstance(step, dict):
            continue
        if step.get("type") == "send_email":
            yield step.get("template")
        for path in ("yes", "no", "on_event", "on_timeout"):
            yield from _template_ids(step.get(path) or [])
        for variant in step.get("variants") or []:
            if isinstance(variant, dict):
                yield from _template_ids(variant.get("steps") or [])


def flows_using_template(*, template: EmailTemplate) -> list[Flow]:
    """Flows that may still send it: a flow not archived whose definition or live version
    has a send_email step with it, or any flow with active enrollments on a version that
    has one (in-flight enrollments finish on their version)."""
    with_active = Enrollment.objects.filter(state=EnrollmentState.ACTIVE)
    flows = (
        Flow.objects.filter(
            ~Q(status=FlowStatus.ARCHIVED) | Q(pk__in=with_active.values("flow_id"))
        )
        .select_related("live_version")
        .order_by("pk")
    )
    active_versions: dict[int, list] = {}
    in_flight = FlowVersion.objects.filter(pk__in=with_active.values("version_id"))
    for flow_id, definition in in_flight.values_list("flow_id", "definition"):
        active_versions.setdefault(flow_id, []).append(definition)
    using = []
    for flow in flows:
        definitions = list(active_versions.get(flow.pk, []))
        if flow.status != FlowStatus.ARCHIVED:
            definitions.append(flow.definition)
            if flow.live_version is not None:
                definitions.append(flow.live_version.definition)
        if any(template.pk in _template_ids((d or {}).get("steps")) for d in definitions if d):
            using.append(flow)
    return using


def template_delete(*, template: EmailTemplate) -> None:
    """Refused (TemplateInUse) while a flow may still send it; the message log keeps its
    messages (their template becomes null)."""
    using = flows_using_template(template=template)
    if using:
        raise TemplateInUse(using)
    template.delete()
