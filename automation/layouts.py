"""MJML layouts around templates' HTML, compiled with mrml (no Node at run time).

Invariants:
- A layout's MJML is compiled to HTML once per process and change: the cache is keyed by
  the layout's id and updated_at, so an edit takes effect at the next send.
- The compiled HTML is split at its placeholders once; a message's HTML is the pieces joined
  with its values: `{{ content }}` (the template's rendered HTML, exactly once) and, when
  present, `{{ unsubscribe_url }}` / `{{ preferences_url }}` (escaped). The layout itself is
  not Jinja: nothing else in it is evaluated.
- A layout that mrml refuses, or whose compiled HTML does not hold `{{ content }}` exactly
  once, is refused at save (path "mjml"); `mj-include` loads nothing (no files, no network).
"""

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import mrml
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from automation.bounded_cache import BoundedCache
from automation.models import EmailLayout
from segflow.errors import InvalidInput

CACHE_SIZE = 128
PLACEHOLDER = re.compile(r"\{\{\s*(content|unsubscribe_url|preferences_url)\s*\}\}")
CONTENT = "content"
_CONTENT_SOURCE = re.compile(r"\{\{\s*content\s*\}\}")


class LayoutError(Exception):
    """MJML that does not compile to a usable layout."""


@dataclass(frozen=True, slots=True)
class CompiledLayout:
    # Literal HTML at even indexes, placeholder names at odd ones (re.split with a group).
    pieces: tuple[str, ...]

    def apply(self, *, content: str, context: Mapping[str, Any]) -> str:
        """The layout's HTML around `content` (HTML, inserted as it is)."""
        out = []
        for index, piece in enumerate(self.pieces):
            if index % 2 == 0:
                out.append(piece)
            elif piece == CONTENT:
                out.append(content)
            else:
                out.append(html.escape(str(context.get(piece) or ""), quote=True))
        return "".join(out)


def _parser_options() -> mrml.ParserOptions:
    return mrml.ParserOptions(include_loader=mrml.noop_loader())


def layout_compile(mjml: str) -> CompiledLayout:
    """Compile MJML (raises LayoutError with mrml's message)."""
    if len(_CONTENT_SOURCE.findall(mjml)) != 1:
        raise LayoutError("The layout must contain {{ content }} exactly once.")
    try:
        output = mrml.to_html(mjml, parser_options=_parser_options())
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # OSError for bad MJML; a Rust panic is pyo3's BaseException
        raise LayoutError(f"MJML error: {exc}") from None
    pieces = tuple(PLACEHOLDER.split(output.content))
    if pieces[1::2].count(CONTENT) != 1:
        raise LayoutError(
            "{{ content }} is lost in the compiled HTML: put it inside the body, e.g. in "
            "<mj-text> or <mj-raw>."
        )
    return CompiledLayout(pieces=pieces)


def layout_check(mjml: str) -> None:
    """A 400 at path "mjml" for MJML that is no usable layout."""
    try:
        layout_compile(mjml)
    except LayoutError as exc:
        raise InvalidInput.single("mjml", str(exc)) from None


class _LayoutCache(BoundedCache[CompiledLayout]):
    """Compiled layouts by (id, updated_at)."""

    def get(self, layout) -> CompiledLayout:
        if layout.pk is None:
            return layout_compile(layout.mjml)
        return self.get_or_build(
            (layout.pk, layout.updated_at), lambda: layout_compile(layout.mjml)
        )


compiled_layouts = _LayoutCache(CACHE_SIZE)


def layout_apply(*, layout, content: str, context: Mapping[str, Any]) -> str:
    """`content` (a template's rendered HTML) inside `layout` (an EmailLayout); raises
    LayoutError for a layout saved before it was valid (e.g. through raw SQL)."""
    return compiled_layouts.get(layout).apply(content=content, context=context)


# --- Writes ---------------------------------------------------------------------------------


class LayoutInUse(Exception):
    """Templates still use the layout."""

    def __init__(self, templates: list):
        self.templates = templates
        names = ", ".join(f"'{t.name}' ({t.pk})" for t in templates[:10])
        more = f" and {len(templates) - 10} more" if len(templates) > 10 else ""
        super().__init__(f"Templates still use this layout: {names}{more}.")


def _layout_saved(layout):
    try:
        with transaction.atomic():
            layout.save()
    except IntegrityError:
        raise InvalidInput.single("name", "Another layout has this name.") from None
    return layout


def layout_create(*, name: str, mjml: str):
    layout_check(mjml)
    return _layout_saved(EmailLayout(name=name, mjml=mjml))


def layout_update(*, layout, **changes):
    """Change the given fields (name, mjml); new MJML must compile to a usable layout."""
    if "mjml" in changes:
        layout_check(changes["mjml"])
    for key, value in changes.items():
        setattr(layout, key, value)
    return _layout_saved(layout)


def layout_delete(*, layout) -> None:
    """Refused (LayoutInUse) while templates use it."""
    using = list(layout.templates.order_by("pk"))
    if using:
        raise LayoutInUse(using)
    try:
        layout.delete()
    except ProtectedError as exc:  # a template took it meanwhile
        raise LayoutInUse(sorted(exc.protected_objects, key=lambda t: t.pk)) from None
