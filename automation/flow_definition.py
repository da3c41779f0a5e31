"""The flow definition (docs/flows.md): `flow_definition_clean` checks a whole flow JSON and
returns it normalised, or raises InvalidInput with every error and its JSON path.

Condition trees (exit_when, branch conditions) and event triggers' `where` filters are checked
by segments.validation, so flows speak exactly the segments' condition language; field values
of update_field steps are normalised by contacts' own field normalisation. The steps
themselves are checked in automation.flow_steps.

Normalised means: every key present (reentry "never", exit_when and goal null, holdout_percent
0 when not given), every step with a stable "id" (given ids kept, missing ones assigned
deterministically), tag names and field values in their stored form.
"""

import re

from automation.flow_steps import DefinitionCheck, clean_duration, clean_event_name
from segflow.errors import InvalidInput
from segments.validation import validate_conditions

DEFINITION_KEYS = (
    "trigger",
    "reentry",
    "exit_when",
    "goal",
    "holdout_percent",
    "frequency_cap",
    "steps",
)
# What a send over the workspace's frequency cap does (docs/sending-rules.md). Stored only
# when not the default: absent means "delay", so existing definitions stay unchanged.
FREQUENCY_CAP_MODES = ("delay", "skip")
TRIGGER_TYPES = ("segment_entered", "segment_left", "event")
REENTRY_POLICIES = ("never", "always")
MAX_HOLDOUT_PERCENT = 50
STEP_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_STEP_ID_LENGTH = 64


def flow_definition_clean(data: object) -> dict:
    """The normalised definition; InvalidInput listing every error by JSON path."""
    if not isinstance(data, dict):
        raise InvalidInput.single("", "Must be an object with trigger, steps, ...")
    check = DefinitionCheck()
    for key in sorted(set(data) - set(DEFINITION_KEYS), key=str):
        check.error(str(key), f"Unknown key. Allowed: {', '.join(DEFINITION_KEYS)}.")
    definition = {
        "trigger": _trigger(check, data.get("trigger")),
        "reentry": _reentry(check, data.get("reentry", "never")),
        "exit_when": _exit_when(check, data.get("exit_when")),
        "goal": _goal(check, data.get("goal")),
        "holdout_percent": _holdout(check, data.get("holdout_percent", 0)),
        "steps": check.steps(data.get("steps"), "steps", depth=1, may_be_empty=False),
    }
    if data.get("frequency_cap", "delay") != "delay":
        definition["frequency_cap"] = data["frequency_cap"]
        if data["frequency_cap"] not in FREQUENCY_CAP_MODES:
            check.error("frequency_cap", 'Must be "delay" (the default) or "skip".')
    taken = _check_step_ids(check, definition["steps"])
    check.check_references()
    check.check_storable(data)
    if not check.errors:
        _assign_step_ids(check, definition["steps"], taken)
    check.errors.raise_if_any()
    return definition


def _trigger(check: DefinitionCheck, trigger: object) -> dict | None:
    path = "trigger"
    if trigger is None:
        check.error(path, 'Required, e.g. {"type": "event", "event": "signed_up"}.')
        return None
    if not isinstance(trigger, dict):
        check.error(path, "Must be an object with a type.")
        return None
    kind = trigger.get("type")
    if kind not in TRIGGER_TYPES:
        check.error(f"{path}.type", f"Required: one of {', '.join(TRIGGER_TYPES)}.")
        return None
    if kind == "event":
        allowed = {"type", "event", "where"}
        # The trigger's event name and `where` filters are an event condition's.
        condition = {"type": "event", "op": "performed", "event": trigger.get("event")}
        if trigger.get("where") is not None:
            condition["where"] = trigger["where"]
    else:
        allowed = {"type", "segment"}
        condition = {"type": "segment", "op": "in", "segment": trigger.get("segment")}
    for key in sorted(set(trigger) - allowed, key=str):
        check.error(f"{path}.{key}", f"Unknown key for a {kind} trigger.")
    for error in validate_conditions(condition, path=path):
        check.error(error.path, error.message)
    return {
        key: trigger[key]
        for key in ("type", *sorted(allowed - {"type"}))
        if trigger.get(key) is not None
    }


def _reentry(check: DefinitionCheck, reentry: object) -> object:
    path = "reentry"
    if reentry in REENTRY_POLICIES:
        return reentry
    if isinstance(reentry, dict) and set(reentry) == {"after"}:
        clean_duration(check, reentry["after"], f"{path}.after")
        return reentry
    check.error(path, 'Must be "never", "always" or {"after": {"days": N}}.')
    return reentry


def _exit_when(check: DefinitionCheck, tree: object) -> object:
    if tree is not None:
        check.condition(tree, "exit_when")
    return tree


def _goal(check: DefinitionCheck, goal: object) -> dict | None:
    path = "goal"
    if goal is None:
        return None
    if not isinstance(goal, dict):
        check.error(path, 'Must be an object like {"event": "purchase", "within": {"days": 7}}.')
        return None
    for key in sorted(set(goal) - {"event", "within"}, key=str):
        check.error(f"{path}.{key}", "Unknown key for a goal.")
    event = clean_event_name(check, goal.get("event"), path)
    if goal.get("within") is None:
        check.error(f"{path}.within", 'Required: the window, e.g. {"days": 7}.')
    else:
        clean_duration(check, goal["within"], f"{path}.within")
    return {"event": event, "within": goal.get("within")}


def _holdout(check: DefinitionCheck, percent: object) -> object:
    if (
        not isinstance(percent, int)
        or isinstance(percent, bool)
        or not 0 <= percent <= MAX_HOLDOUT_PERCENT
    ):
        check.error("holdout_percent", f"Must be a whole number from 0 to {MAX_HOLDOUT_PERCENT}.")
    return percent


def _check_step_ids(check: DefinitionCheck, steps: list[dict]) -> set[str]:
    """The given ids, each a slug unique across the flow (errors at `<step>.id`)."""
    taken: dict[str, str] = {}
    for path, step in check.walk(steps, "steps"):
        given = step["id"]
        if given is None:
            continue
        if not isinstance(given, str) or not STEP_ID_PATTERN.match(given):
            check.error(
                f"{path}.id", f"Must be 1 to {MAX_STEP_ID_LENGTH} letters, digits, '-' or '_'."
            )
        elif given in taken:
            check.error(f"{path}.id", f"Duplicate step id '{given}' (also at {taken[given]}).")
        else:
            taken[given] = path
    return set(taken)


def _assign_step_ids(check: DefinitionCheck, steps: list[dict], taken: set[str]) -> None:
    """A step without an id gets "<type>-<n>", n counting that type in document order and
    skipping ids already taken: the same definition always gets the same ids."""
    counters: dict[str, int] = {}
    for _, step in check.walk(steps, "steps"):
        if step["id"] is not None:
            continue
        kind = step["type"]
        while True:
            counters[kind] = counters.get(kind, 0) + 1
            candidate = f"{kind}-{counters[kind]}"
            if candidate not in taken:
                break
        taken.add(candidate)
        step["id"] = candidate
