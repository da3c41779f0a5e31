"""The checks of a flow's steps (design §5, docs/flows.md), used by automation.flow_definition.

`DefinitionCheck` collects every error with its JSON path while it walks the definition, and
checks the references it met (templates, topics) with one query each at the end.
"""

import datetime as dt
import math
from collections.abc import Iterator
from functools import cached_property

from automation.models import EmailTemplate
from automation.rendering import TemplateRenderError, template_compile
from automation.webhooks import webhook_url_problem
from contacts.builtins import BUILTIN_FIELD_TYPES, BUILTIN_INPUTS, normalize_tag_name
from contacts.field_types import field_definitions, normalize_value
from contacts.models import CustomField, SubscriptionTopic
from segflow.errors import ErrorCollector
from segflow.json_input import find_unstorable_string
from segments.validation import validate_conditions

MAX_STEPS = 200
MAX_STEP_DEPTH = 10
MAX_WAIT = dt.timedelta(days=365)
MAX_SCORE_ADJUSTMENT = 1000
MAX_TAGS = 100
MAX_URL_LENGTH = 2000
MAX_BODY_LENGTH = 100_000
MAX_SPLIT_VARIANTS = 20
MAX_ID = 2**63 - 1
DURATION_UNITS = ("days", "hours", "minutes")
WAIT_UNITS = ("days", "hours", "minutes", "seconds")
# ~100 years: segments' bound for windows (segments.operators.MAX_DURATION).
MAX_WINDOW = dt.timedelta(days=36_600)

STEP_KEYS: dict[str, set[str]] = {
    "wait": {"duration"},
    "wait_until": {"field", "offset"},
    "wait_for_event": {"event", "timeout", "on_event", "on_timeout"},
    "send_email": {"template", "topic", "ignore_send_window"},
    "branch": {"condition", "yes", "no"},
    "split": {"variants"},
    "update_field": {"field", "value"},
    "adjust_score": {"by"},
    "tag": {"add", "remove"},
    "webhook": {"url", "body"},
    "exit": set(),
}
# Built-in fields an update_field step may write. email and external_id identify the contact
# (one value for every contact would collide); the others are Segflow's own.
WRITABLE_BUILTINS = tuple(key for key in BUILTIN_INPUTS if key not in ("email", "external_id"))
_NOT_WRITABLE = {
    "email": "A flow cannot change a contact's email.",
    "external_id": "A flow cannot change a contact's external_id: it identifies the contact.",
    "lead_score": "Use an adjust_score step to change the lead score.",
}
DATE_TYPES = ("date", "datetime")


def clean_duration(
    check: "DefinitionCheck",
    value: object,
    path: str,
    *,
    units: tuple[str, ...] = DURATION_UNITS,
    maximum: dt.timedelta = MAX_WINDOW,
    signed: bool = False,
) -> dt.timedelta | None:
    """{"<unit>": N} -> timedelta; an error at `path` (shape) or `path.<unit>` (amount)."""
    if not isinstance(value, dict) or len(value) != 1:
        names = ", ".join(f'"{unit}"' for unit in units)
        check.error(path, f'Must be an object with one of {names}, e.g. {{"days": 3}}.')
        return None
    ((unit, amount),) = value.items()
    if unit not in units:
        check.error(f"{path}.{unit}", f"Unknown unit. Use one of: {', '.join(units)}.")
        return None
    if not isinstance(amount, int) or isinstance(amount, bool):
        check.error(f"{path}.{unit}", "Must be a whole number.")
        return None
    if amount <= 0 and not signed:
        check.error(f"{path}.{unit}", "Must be more than zero.")
        return None
    if abs(amount) > maximum / dt.timedelta(**{unit: 1}):
        check.error(f"{path}.{unit}", f"Must be at most {maximum.days} days.")
        return None
    return dt.timedelta(**{unit: amount})


def clean_event_name(check: "DefinitionCheck", name: object, path: str) -> object:
    """An event name as an event condition takes it (checked there); errors at `path.event`."""
    condition = {"type": "event", "op": "performed", "event": name}
    for error in validate_conditions(condition, path=path):
        check.error(error.path, error.message)
    return name


def _positive_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID


class DefinitionCheck:
    def __init__(self) -> None:
        self.errors = ErrorCollector()
        self.step_count = 0
        self.templates: list[tuple[str, int]] = []
        self.topics: list[tuple[str, str]] = []

    def error(self, path: str, message: str) -> None:
        self.errors.add(path, message)

    @cached_property
    def fields(self) -> dict[str, CustomField]:
        return field_definitions()

    def condition(self, tree: object, path: str) -> None:
        for error in validate_conditions(tree, path=path, fields=self.fields):
            self.error(error.path, error.message)

    # --- step lists -----------------------------------------------------------------------

    def steps(self, steps: object, path: str, *, depth: int, may_be_empty: bool) -> list[dict]:
        if steps is None and not may_be_empty:
            self.error(path, "Required: a list of steps.")
            return []
        if not isinstance(steps, list):
            self.error(path, "Must be a list of steps.")
            return []
        if not steps and not may_be_empty:
            what = "A flow" if depth == 1 else "A branch"
            self.error(path, f"{what} with no steps: give at least one (an exit step ends it).")
            return []
        if depth > MAX_STEP_DEPTH:
            self.error(path, f"Nested too deep: at most {MAX_STEP_DEPTH} levels of steps.")
            return []
        top_level = depth == 1
        cleaned, after_exit = [], False
        for index, step in enumerate(steps):
            step_path = f"{path}[{index}]"
            if after_exit:
                self.error(step_path, "Unreachable: an exit step comes before it.")
                after_exit = False  # one error is enough for the rest of the list
            clean = self.step(step, step_path, depth=depth)
            if clean is not None:
                cleaned.append(clean)
                after_exit = after_exit or (clean["type"] == "exit" and index < len(steps) - 1)
        if top_level and self.step_count > MAX_STEPS:
            self.error(path, f"Too many steps ({self.step_count}); at most {MAX_STEPS}.")
        return cleaned

    def step(self, step: object, path: str, *, depth: int) -> dict | None:
        self.step_count += 1
        if not isinstance(step, dict):
            self.error(path, 'Must be an object with a "type".')
            return None
        kind = step.get("type")
        if kind not in STEP_KEYS:
            self.error(f"{path}.type", f"Required: one of {', '.join(STEP_KEYS)}.")
            return None
        for key in sorted(set(step) - STEP_KEYS[kind] - {"type", "id"}, key=str):
            self.error(f"{path}.{key}", f"Unknown key for a {kind} step.")
        clean = {"id": step.get("id"), "type": kind}
        getattr(self, f"_{kind}")(step, path, clean, depth)
        return clean

    def walk(self, steps: list[dict], path: str) -> Iterator[tuple[str, dict]]:
        """(path, step) for every cleaned step, in document order."""
        for index, step in enumerate(steps):
            step_path = f"{path}[{index}]"
            yield step_path, step
            for key in ("yes", "no", "on_event", "on_timeout"):
                if isinstance(step.get(key), list):
                    yield from self.walk(step[key], f"{step_path}.{key}")
            for number, variant in enumerate(step.get("variants") or ()):
                yield from self.walk(variant["steps"], f"{step_path}.variants[{number}].steps")

    # --- each type ------------------------------------------------------------------------

    def _wait(self, step: dict, path: str, clean: dict, depth: int) -> None:
        duration = step.get("duration")
        if duration is None:
            self.error(f"{path}.duration", 'Required, e.g. {"days": 3}.')
        else:
            clean_duration(self, duration, f"{path}.duration", units=WAIT_UNITS, maximum=MAX_WAIT)
        clean["duration"] = duration

    def _wait_until(self, step: dict, path: str, clean: dict, depth: int) -> None:
        key = step.get("field")
        if not isinstance(key, str) or not key:
            self.error(f"{path}.field", "Required: a date or datetime field's key.")
        elif key in BUILTIN_FIELD_TYPES or key in self.fields:
            kind = BUILTIN_FIELD_TYPES.get(key) or self.fields[key].type
            if kind not in DATE_TYPES:
                self.error(f"{path}.field", f"'{key}' is a {kind} field: use a date or datetime.")
        else:
            self.error(f"{path}.field", f"Unknown field '{key}'.")
        clean["field"] = key
        if step.get("offset") is not None:
            clean_duration(self, step["offset"], f"{path}.offset", maximum=MAX_WAIT, signed=True)
            clean["offset"] = step["offset"]

    def _wait_for_event(self, step: dict, path: str, clean: dict, depth: int) -> None:
        clean["event"] = clean_event_name(self, step.get("event"), path)
        if step.get("timeout") is None:
            self.error(f"{path}.timeout", 'Required, e.g. {"days": 3}.')
        else:
            clean_duration(self, step["timeout"], f"{path}.timeout", maximum=MAX_WAIT)
        clean["timeout"] = step.get("timeout")
        for key in ("on_event", "on_timeout"):
            value = step.get(key, [])
            clean[key] = self.steps(value, f"{path}.{key}", depth=depth + 1, may_be_empty=True)

    def _send_email(self, step: dict, path: str, clean: dict, depth: int) -> None:
        template = step.get("template")
        if not _positive_id(template):
            self.error(f"{path}.template", "Required: the email template's id.")
        else:
            self.templates.append((f"{path}.template", template))
        clean["template"] = template
        topic = step.get("topic")
        if topic is not None:
            if not isinstance(topic, str) or not topic:
                self.error(f"{path}.topic", "Must be a subscription topic's key.")
            else:
                self.topics.append((f"{path}.topic", topic))
            clean["topic"] = topic
        if "ignore_send_window" in step:  # docs/sending-rules.md
            if not isinstance(step["ignore_send_window"], bool):
                self.error(f"{path}.ignore_send_window", "Must be true or false.")
            clean["ignore_send_window"] = step["ignore_send_window"]

    def _branch(self, step: dict, path: str, clean: dict, depth: int) -> None:
        if step.get("condition") is None:
            self.error(f"{path}.condition", "Required: a condition tree.")
        else:
            self.condition(step["condition"], f"{path}.condition")
        clean["condition"] = step.get("condition")
        for key in ("yes", "no"):
            clean[key] = self.steps(
                step.get(key), f"{path}.{key}", depth=depth + 1, may_be_empty=False
            )

    def _split(self, step: dict, path: str, clean: dict, depth: int) -> None:
        variants, variants_path = step.get("variants"), f"{path}.variants"
        clean["variants"] = []
        if not isinstance(variants, list) or not 2 <= len(variants) <= MAX_SPLIT_VARIANTS:
            self.error(
                variants_path,
                f'Required: 2 to {MAX_SPLIT_VARIANTS} variants {{"percent": P, "steps": [...]}}.',
            )
            return
        total, whole = 0, True
        for index, variant in enumerate(variants):
            variant_path = f"{variants_path}[{index}]"
            if not isinstance(variant, dict):
                self.error(variant_path, 'Must be an object {"percent": P, "steps": [...]}.')
                whole = False
                continue
            for key in sorted(set(variant) - {"percent", "steps"}, key=str):
                self.error(f"{variant_path}.{key}", "Unknown key for a split variant.")
            percent = variant.get("percent")
            if not isinstance(percent, int) or isinstance(percent, bool) or not 0 <= percent <= 100:
                self.error(f"{variant_path}.percent", "Must be a whole number from 0 to 100.")
                whole = False
            else:
                total += percent
            steps = self.steps(
                variant.get("steps"), f"{variant_path}.steps", depth=depth + 1, may_be_empty=False
            )
            clean["variants"].append({"percent": percent, "steps": steps})
        if whole and total != 100:
            self.error(variants_path, f"The percents must add up to 100, not {total}.")

    def _update_field(self, step: dict, path: str, clean: dict, depth: int) -> None:
        key, value = step.get("field"), step.get("value")
        clean["field"], clean["value"] = key, value
        if "value" not in step:
            self.error(f"{path}.value", "Required (null clears the field).")
        if not isinstance(key, str) or not key:
            self.error(f"{path}.field", "Required: a custom field's or built-in field's key.")
            return
        if key in WRITABLE_BUILTINS or key in self.fields:
            if "value" in step:
                try:
                    clean["value"] = self._field_value(key, value)
                except ValueError as exc:
                    self.error(f"{path}.value", str(exc))
        elif key in BUILTIN_FIELD_TYPES:
            message = _NOT_WRITABLE.get(key, f"'{key}' is set by Segflow: a flow cannot write it.")
            self.error(f"{path}.field", message)
        else:
            self.error(f"{path}.field", f"Unknown field '{key}'.")

    def _field_value(self, key: str, value: object) -> object:
        """The stored form, as contacts' own writes normalise it (null clears the field)."""
        if key in WRITABLE_BUILTINS:
            return BUILTIN_INPUTS[key](value)
        return None if value is None else normalize_value(self.fields[key], value)

    def _adjust_score(self, step: dict, path: str, clean: dict, depth: int) -> None:
        by = step.get("by")
        if (
            not isinstance(by, int)
            or isinstance(by, bool)
            or by == 0
            or abs(by) > MAX_SCORE_ADJUSTMENT
        ):
            self.error(
                f"{path}.by",
                f"Must be a whole number from -{MAX_SCORE_ADJUSTMENT} to "
                f"{MAX_SCORE_ADJUSTMENT}, not 0.",
            )
        clean["by"] = by

    def _tag(self, step: dict, path: str, clean: dict, depth: int) -> None:
        names: dict[str, dict[str, str]] = {}
        for key in ("add", "remove"):
            names[key] = self._tag_names(step.get(key), f"{path}.{key}")
            clean[key] = list(names[key].values())
        if all(step.get(key) in (None, []) for key in ("add", "remove")):
            self.error(path, 'Give tag names to "add", to "remove", or both.')
        for lower in sorted(set(names["add"]) & set(names["remove"])):
            self.error(f"{path}.remove", f"'{names['remove'][lower]}' is also added.")

    def _tag_names(self, value: object, path: str) -> dict[str, str]:
        """Lower-case name -> name, as contacts store tags (case-insensitively unique)."""
        if value is None:
            return {}
        if not isinstance(value, list) or len(value) > MAX_TAGS:
            self.error(path, f"Must be a list of at most {MAX_TAGS} tag names.")
            return {}
        names: dict[str, str] = {}
        for index, name in enumerate(value):
            try:
                clean = normalize_tag_name(name)
            except ValueError as exc:
                self.error(f"{path}[{index}]", str(exc))
            else:
                names.setdefault(clean.lower(), clean)
        return names

    def _webhook(self, step: dict, path: str, clean: dict, depth: int) -> None:
        url = step.get("url")
        if not isinstance(url, str) or not url.strip():
            self.error(f"{path}.url", "Required: the http(s) URL to POST to.")
        elif len(url) > MAX_URL_LENGTH:
            self.error(f"{path}.url", f"Must be at most {MAX_URL_LENGTH} characters.")
        elif problem := webhook_url_problem(url.strip(), resolve=False):
            # Its address is checked when called (private ones refused unless allowed).
            self.error(f"{path}.url", f"The URL {problem}.")
        clean["url"] = url.strip() if isinstance(url, str) else url
        body = step.get("body")
        if body is None:
            return
        clean["body"] = body
        if not isinstance(body, str):
            self.error(f"{path}.body", "Must be a Jinja template string.")
        elif len(body) > MAX_BODY_LENGTH:
            self.error(f"{path}.body", f"Must be at most {MAX_BODY_LENGTH} characters.")
        else:
            try:  # in the sandbox automation.webhooks renders it with
                template_compile(body, part="body")
            except TemplateRenderError as exc:
                self.error(f"{path}.body", f"Template error on line {exc.line}: {exc.message}")

    def _exit(self, step: dict, path: str, clean: dict, depth: int) -> None:
        pass

    # --- after the walk -------------------------------------------------------------------

    def check_references(self) -> None:
        if self.templates:
            ids = {pk for _, pk in self.templates}
            known = set(EmailTemplate.objects.filter(pk__in=ids).values_list("pk", flat=True))
            for path, pk in self.templates:
                if pk not in known:
                    self.error(path, f"Email template {pk} does not exist.")
        if self.topics:
            keys = {key for _, key in self.topics}
            known = set(
                SubscriptionTopic.objects.filter(key__in=keys).values_list("key", flat=True)
            )
            for path, key in self.topics:
                if key not in known:
                    self.error(path, f"Unknown subscription topic '{key}'.")

    def check_storable(self, data: object, path: str = "") -> None:
        """PostgreSQL's jsonb refuses NUL and lone surrogates, and JSON has no infinities."""
        if isinstance(data, str):
            if find_unstorable_string(data) is not None:
                self.error(path, "Must not contain NUL characters or invalid code points.")
        elif isinstance(data, float):
            if not math.isfinite(data):
                self.error(path, "Must be a finite number.")
        elif isinstance(data, dict):
            for key, value in data.items():
                item_path = f"{path}.{key}" if path else str(key)
                if isinstance(key, str) and find_unstorable_string(key) is not None:
                    self.error(item_path, "Must not contain NUL characters or invalid code points.")
                self.check_storable(value, item_path)
        elif isinstance(data, list):
            for index, value in enumerate(data):
                self.check_storable(value, f"{path}[{index}]")
