"""Email rendering: marketer-written Jinja2 in one sandboxed environment.

Invariants:
- Templates never reach Python internals: the sandbox (automation.sandbox) refuses
  `_`-prefixed attributes and function internals and bounds sizes and loops, and the
  context holds plain records (`TemplateRecord`), never model instances (so no
  `contact.save`, no related managers, no `__class__` walks).
- An undefined value fails the render with a reason that names it and the line
  ("template error: 'contact' has no attribute 'frist_name' (html, line 3)"), unless the
  template gives a default (`| default(...)`, `is defined`).
- HTML is autoescaped; subject and text are not (they are not HTML).
- A compiled template is cached per (template id, updated_at, part): editing a template
  changes updated_at, so a stale compilation is never used.
- A template with a layout renders inside it (automation.layouts); the text part derived
  from the HTML is derived from the template's own HTML, never the layout's chrome.
"""

import datetime as dt
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError
from jinja2.utils import missing, object_type_repr

from automation import tokens
from automation.bounded_cache import BoundedCache
from automation.html_text import html_to_text
from automation.layouts import LayoutError, layout_apply
from automation.sandbox import SegflowSandbox, render_budget, render_budget_end
from contacts.builtins import BUILTIN_FIELD_TYPES

PARTS = ("subject", "html", "text")
CACHE_SIZE = 512
_FILENAME_PREFIX = "<segflow:"
MAX_RECORD_DEPTH = 32


class TemplateRecord(dict):
    """A dict whose keys read as attributes in templates (`contact.first_name`, and
    `event.properties.items` reads the key "items" when there is one, not the dict method).
    A missing key is undefined, named by `label` in the error ("'contact.fields' has no
    attribute 'plan'"). Being a dict, it serializes as JSON (`| tojson`, webhook bodies)."""

    __slots__ = ("_label",)

    def __init__(self, label: str, data: Mapping[str, Any]):
        super().__init__(data)
        self._label = label

    def __getattribute__(self, name: str) -> Any:
        if not name.startswith("_") and dict.__contains__(self, name):
            return dict.__getitem__(self, name)
        return super().__getattribute__(name)

    def __repr__(self) -> str:
        return f"<{self._label}>"


def record(label: str, value: Any, depth: int = 0) -> Any:
    """JSON-like data as template values: objects become TemplateRecords, recursively (below
    MAX_RECORD_DEPTH, deeper values stay as they are: plain dicts and lists)."""
    if depth >= MAX_RECORD_DEPTH:
        return value
    if isinstance(value, Mapping):
        return TemplateRecord(
            label,
            {
                k: record(f"{label}.{k}", v, depth + 1) if isinstance(v, _NESTED) else v
                for k, v in value.items()
            },
        )
    if isinstance(value, list | tuple):
        return [
            record(f"{label}[{i}]", v, depth + 1) if isinstance(v, _NESTED) else v
            for i, v in enumerate(value)
        ]
    return value


# Values `record` descends into (a scalar is kept as it is, its label never built).
_NESTED = (Mapping, list, tuple)


class NamedStrictUndefined(StrictUndefined):
    """StrictUndefined whose message names the record ("'contact' has no attribute 'x'")."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        obj, name = self._undefined_obj, self._undefined_name
        if self._undefined_hint:
            return self._undefined_hint
        if obj is missing:
            return f"{name!r} is undefined"
        owner = f"'{obj._label}'" if isinstance(obj, TemplateRecord) else object_type_repr(obj)
        if not isinstance(name, str):
            return f"{owner} has no element {name!r}"
        return f"{owner} has no attribute {name!r}"


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _autoescape(template_name: str | None) -> bool:
    return template_name == "html"


class RecordSandbox(SegflowSandbox):
    """The sandbox, with a record's keys read directly: they hold plain data (JSON-like
    values, strings, dates, numbers), never functions or Python internals, so the sandbox's
    per-value checks (the costliest part of a render) are skipped for them. Anything else,
    `_` names and callables included, takes the sandbox's full path."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is TemplateRecord and type(attribute) is str and attribute[:1] != "_":
            value = dict.get(obj, attribute, missing)
            if value is not missing and not callable(value):
                return value
        return super().getattr(obj, attribute)


environment = RecordSandbox(
    autoescape=_autoescape, undefined=NamedStrictUndefined, keep_trailing_newline=True
)
environment.policies["json.dumps_kwargs"] = {"sort_keys": True, "default": _json_default}


class TemplateRenderError(Exception):
    """A template that does not parse or fails to render; `part` is subject | html | text."""

    def __init__(self, *, part: str, message: str, line: int | None):
        self.part = part
        self.message = message
        self.line = line
        where = f"{part}, line {line}" if line else part
        super().__init__(f"template error: {message} ({where})")

    @property
    def reason(self) -> str:
        return str(self)


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    html: str
    text: str


def template_compile(source: str, *, part: str) -> Template:
    """Compile one part; a syntax error is a TemplateRenderError with its line."""
    try:
        code = environment.compile(source, name=part, filename=f"{_FILENAME_PREFIX}{part}>")
    except TemplateSyntaxError as exc:
        message = exc.message or "syntax error"
        raise TemplateRenderError(part=part, message=message, line=exc.lineno) from None
    return environment.template_class.from_code(environment, code, environment.make_globals(None))


class _CompiledCache(BoundedCache[Template]):
    """Compiled templates by (template id, updated_at, part)."""

    def get(self, key: tuple, source: str, part: str) -> Template:
        return self.get_or_build(key, lambda: template_compile(source, part=part))


compiled_cache = _CompiledCache(CACHE_SIZE)


def _compiled(template, part: str) -> Template:
    source = getattr(template, part)
    if template.pk is None:
        return template_compile(source, part=part)
    return compiled_cache.get((template.pk, template.updated_at, part), source, part)


def _failing_line(part: str) -> int | None:
    """The template line of the exception being handled (Jinja rewrites the traceback so
    template frames carry the template's file name and line)."""
    tb = sys.exc_info()[2]
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == f"{_FILENAME_PREFIX}{part}>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def render_part(template, part: str, context: Mapping[str, Any]) -> str:
    """Render one part of an EmailTemplate-like object (pk, updated_at, subject/html/text)."""
    compiled = _compiled(template, part)
    return render_compiled(compiled, part=part, context=context)


def render_compiled(compiled: Template, *, part: str, context: Mapping[str, Any]) -> str:
    budget = render_budget()
    try:
        return compiled.render(context)
    except TemplateRenderError:
        raise
    except TemplateError as exc:
        raise TemplateRenderError(
            part=part, message=exc.message or type(exc).__name__, line=_failing_line(part)
        ) from None
    except Exception as exc:  # a filter given a wrong type, a division by zero, ...
        raise TemplateRenderError(
            part=part, message=f"{type(exc).__name__}: {exc}", line=_failing_line(part)
        ) from None
    finally:
        render_budget_end(budget)


def template_render(*, template, context: Mapping[str, Any]) -> RenderedEmail:
    """Subject, HTML and text of `template` for `context` (see `render_context`): the HTML
    inside the template's layout when it has one; the text derived from the template's own
    HTML (not the layout's) when it has none."""
    subject = " ".join(render_part(template, "subject", context).split())
    html = render_part(template, "html", context)
    text = render_part(template, "text", context) if template.text.strip() else html_to_text(html)
    if getattr(template, "layout_id", None) is not None:
        try:
            html = layout_apply(layout=template.layout, content=html, context=context)
        except LayoutError as exc:
            raise TemplateRenderError(part="layout", message=str(exc), line=None) from None
    return RenderedEmail(subject=subject, html=html, text=text)


# --- The template context (design §5) -------------------------------------------------------

CONTACT_ATTRIBUTES = ("id", *BUILTIN_FIELD_TYPES)


def contact_record(contact) -> TemplateRecord:
    """`contact.<built-in>`, `contact.fields.KEY`, `contact.tags`: empty values are absent,
    so `| default(...)` applies to them."""
    values: dict[str, Any] = {}
    for name in CONTACT_ATTRIBUTES:
        value = getattr(contact, name, None)
        if value is not None and value != "":
            values[name] = value
    fields = {key: value for key, value in (contact.fields or {}).items() if value is not None}
    values["fields"] = record("contact.fields", fields)
    values["tags"] = sorted((tag.name for tag in contact.tags.all()), key=str.lower)
    return TemplateRecord("contact", values)


def event_record(event) -> TemplateRecord | None:
    if event is None:
        return None
    return TemplateRecord(
        "event",
        {
            "name": event.name,
            "properties": record("event.properties", event.properties or {}),
            "occurred_at": event.occurred_at,
        },
    )


def flow_record(flow) -> TemplateRecord | None:
    if flow is None:
        return None
    return TemplateRecord("flow", {"id": flow.pk, "name": flow.name})


def render_context(
    *, contact, event=None, flow=None, contact_id: int | None, message_id: int | None
) -> dict[str, Any]:
    """The context of design §5. `contact_id` / `message_id` sign the unsubscribe and
    preference links (a preview signs None for the message)."""
    return {
        "contact": contact if isinstance(contact, TemplateRecord) else contact_record(contact),
        "event": event_record(event),
        "flow": flow_record(flow),
        "unsubscribe_url": tokens.unsubscribe_url(contact_id=contact_id, message_id=message_id),
        "preferences_url": tokens.preferences_url(contact_id=contact_id, message_id=message_id),
    }


def template_preview(*, template, contact, event=None, flow=None) -> RenderedEmail:
    """What `contact` would receive (raises TemplateRenderError)."""
    context = render_context(
        contact=contact, event=event, flow=flow, contact_id=contact.pk, message_id=None
    )
    return template_render(template=template, context=context)
