"""The Jinja2 sandbox marketer-written templates run in, with bounds on what one render may
build or loop over.

Jinja's ImmutableSandboxedEnvironment refuses Python internals (`_` attributes, function
internals) and changes to the values a template is given. It does not bound size: `'x' *
10**9`, `'x'.center(10**9)`, `'%1000000000s' | format(1)` or nested `range(100000)` loops
would take a worker's memory or time. These bounds refuse them as template errors.
"""

import contextvars
import re
from typing import Any

from jinja2 import filters as jinja_filters
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

# Longest string or list a template may build in one operation.
MAX_SEQUENCE_LENGTH = 100_000
MAX_POWER_EXPONENT = 100
# range() items one render may create in total (nested loops multiply).
MAX_RANGE_ITEMS_PER_RENDER = 1_000_000
_PADDING_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})
# A width or precision of 6+ digits, or one taken from an argument (`*`), in a %-format or a
# str.format spec.
_BIG_PERCENT_WIDTH = re.compile(r"%[-#0 +]*(\*|\d{6,}|\d*\.(\*|\d{6,}))")
_BIG_FORMAT_WIDTH = re.compile(r"\{[^{}]*:[^{}]*(\d{6,}|\{)")

_range_budget: contextvars.ContextVar[list[int]] = contextvars.ContextVar("range_budget")


def _refuse(what: str) -> None:
    raise SecurityError(f"{what} is too large for a template")


def _check_length(value: Any) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and value > MAX_SEQUENCE_LENGTH:
        _refuse(f"a width of {value}")


def _check_format_string(text: Any) -> None:
    if isinstance(text, str) and (
        _BIG_PERCENT_WIDTH.search(text) or _BIG_FORMAT_WIDTH.search(text)
    ):
        _refuse("a format width")


def budgeted_range(*args: int) -> range:
    """range() counted against the render's budget (set by `render_budget`)."""
    items = range(*args)
    budget = _range_budget.get(None)
    if budget is not None:
        budget[0] -= len(items)
        if budget[0] < 0:
            _refuse(f"more than {MAX_RANGE_ITEMS_PER_RENDER} range() items")
    if len(items) > MAX_SEQUENCE_LENGTH:
        _refuse(f"a range of {len(items)} items")
    return items


def render_budget() -> contextvars.Token:
    """Start a render's range() budget; pass the token to `render_budget_end`."""
    return _range_budget.set([MAX_RANGE_ITEMS_PER_RENDER])


def render_budget_end(token: contextvars.Token) -> None:
    _range_budget.reset(token)


def _bounded_center(value: Any, width: int = 80) -> str:
    _check_length(width)
    return jinja_filters.do_center(value, width)


def _bounded_indent(value: Any, width: int | str = 4, *args: Any, **kwargs: Any) -> str:
    _check_length(width if isinstance(width, int) else len(width))
    return jinja_filters.do_indent(value, width, *args, **kwargs)


def _bounded_format(value: Any, *args: Any, **kwargs: Any) -> str:
    _check_format_string(value)
    return jinja_filters.do_format(value, *args, **kwargs)


class SegflowSandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "%"})

    def __init__(self, **options: Any):
        super().__init__(**options)
        self.globals.pop("lipsum", None)  # generates text of any size
        self.globals["range"] = budgeted_range
        self.filters.update(
            {"center": _bounded_center, "indent": _bounded_indent, "format": _bounded_format}
        )

    def call_binop(self, context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            if isinstance(right, int | float) and abs(right) > MAX_POWER_EXPONENT:
                _refuse(f"an exponent of {right}")
            return left**right
        if operator == "%":
            _check_format_string(left)
            return left % right
        for sequence, times in ((left, right), (right, left)):
            if (
                isinstance(sequence, str | list | tuple)
                and isinstance(times, int)
                and len(sequence) * times > MAX_SEQUENCE_LENGTH
            ):
                _refuse(f"a result of {len(sequence) * times} items")
        return left * right

    def call(self, context, obj, /, *args: Any, **kwargs: Any) -> Any:
        if isinstance(getattr(obj, "__self__", None), str) and obj.__name__ in _PADDING_METHODS:
            for value in (*args, *kwargs.values()):
                _check_length(value)
        return super().call(context, obj, *args, **kwargs)

    def wrap_str_format(self, value: Any):
        """`'...'.format` as the template reads it: its format string checked first."""
        wrapped = super().wrap_str_format(value)
        if wrapped is not None:
            _check_format_string(value.__self__)
        return wrapped
