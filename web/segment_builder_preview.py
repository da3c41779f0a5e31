"""What the segment builder shows while a tree is edited (docs/segment-builder.md): its issues
(the validator's, each with its JSON path, plus empty groups), the count and sample of its
valid part, a plain-words summary, and the enter/leave impact of saving an edit.

The valid part of a tree: every node that owns an error (the deepest node whose path starts
the error's path) is left out, then every group left with no condition. So an unfinished
row never changes what the rest of the tree counts, in an `all` or an `any` group alike.
"""

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Exists, OuterRef

from contacts.models import Contact
from segments.describe import conditions_describe
from segments.models import Segment, SegmentMembership
from segments.selectors import segment_matching_contacts, segment_preview
from segments.validation import MAX_DEPTH, validate_conditions

ROOT = "conditions"
EMPTY_GROUP = "This group is empty: add a condition to it or remove it."
EMPTY_TREE = "Add a condition: who should be in this segment?"


@dataclass
class Preview:
    errors: list[dict[str, str]] = field(default_factory=list)
    count: int | None = None
    sample: list[Contact] = field(default_factory=list)
    summary: str = ""
    # "all": the whole tree was counted; "part": its valid part; "none": nothing valid.
    counted: str = "none"


def _group_key(node: object) -> str | None:
    if isinstance(node, dict) and len(node) == 1:
        key = next(iter(node))
        if key in ("all", "any") and isinstance(node[key], list):
            return key
        if key == "not":
            return key
    return None


def _node_paths(node: object, path: str, depth: int = 1) -> list[str]:
    """The path of every node of the tree (as far as the validator descends)."""
    paths = [path]
    key = _group_key(node)
    if depth > MAX_DEPTH or key is None:
        return paths
    if key == "not":
        return paths + _node_paths(node["not"], f"{path}.not", depth + 1)
    for index, child in enumerate(node[key]):
        paths += _node_paths(child, f"{path}.{key}[{index}]", depth + 1)
    return paths


def _owner(error_path: str, node_paths: list[str]) -> str:
    """The deepest node whose path is `error_path` or starts it at a `.` or `[`."""
    best = ROOT
    for path in node_paths:
        if (error_path == path or error_path.startswith((f"{path}.", f"{path}["))) and len(
            path
        ) > len(best):
            best = path
    return best


def _empty_groups(node: object, path: str, depth: int = 1) -> list[str]:
    key = _group_key(node)
    if depth > MAX_DEPTH or key is None:
        return []
    if key == "not":
        return _empty_groups(node["not"], f"{path}.not", depth + 1)
    if not node[key]:
        return [path]
    found = []
    for index, child in enumerate(node[key]):
        found += _empty_groups(child, f"{path}.{key}[{index}]", depth + 1)
    return found


def builder_issues(conditions: object, *, segment_id: int | None) -> list[dict[str, str]]:
    """Every validation error of the tree, then every empty group (which the validator
    accepts: an empty `all` matches everyone, an empty `any` no one, rarely what was meant)."""
    issues = [
        {"path": error.path, "message": error.message}
        for error in validate_conditions(conditions, segment_id=segment_id)
    ]
    for path in _empty_groups(conditions, ROOT):
        issues.append({"path": path, "message": EMPTY_TREE if path == ROOT else EMPTY_GROUP})
    return issues


def valid_part(conditions: object, issues: list[dict[str, str]]) -> object | None:
    """The tree without the nodes that own an issue and the groups left empty; None when
    nothing valid remains."""
    node_paths = _node_paths(conditions, ROOT)
    bad = {_owner(issue["path"], node_paths) for issue in issues}
    return _prune(conditions, ROOT, bad, depth=1)


def _prune(node: object, path: str, bad: set[str], *, depth: int) -> object | None:
    if path in bad:
        return None
    key = _group_key(node)
    if key is None:
        return node
    if key == "not":
        child = _prune(node["not"], f"{path}.not", bad, depth=depth + 1)
        return None if child is None else {"not": child}
    kept = [
        pruned
        for index, child in enumerate(node[key])
        if (pruned := _prune(child, f"{path}.{key}[{index}]", bad, depth=depth + 1)) is not None
    ]
    return {key: kept} if kept else None


def builder_preview(
    *, conditions: object, segment_id: int | None, now: dt.datetime, sample_size: int = 10
) -> Preview:
    """Issues of the tree and the count, sample and summary of its valid part."""
    preview = Preview(errors=builder_issues(conditions, segment_id=segment_id))
    counted = valid_part(conditions, preview.errors) if preview.errors else conditions
    if counted is None or (
        counted is not conditions and validate_conditions(counted, segment_id=segment_id)
    ):
        return preview
    preview.count, preview.sample = segment_preview(
        conditions=counted, now=now, sample_size=sample_size
    )
    preview.counted = "part" if preview.errors else "all"
    preview.summary = conditions_describe(conditions=counted, now=now)
    return preview


def segment_change_impact(*, segment: Segment, conditions: object, now: dt.datetime) -> dict:
    """Counts only, for a valid tree: contacts that saving `conditions` would bring in
    (matching, not a current member), take out (current members no longer matching), and
    the size after. Memberships are those of the segment's last evaluation."""
    matching = segment_matching_contacts(conditions=conditions, now=now)
    current = SegmentMembership.objects.current().filter(segment_id=segment.pk)
    entering = matching.filter(~Exists(current.filter(contact_id=OuterRef("pk")))).count()
    leaving = current.filter(~Exists(matching.filter(pk=OuterRef("contact_id")))).count()
    size_before = current.count()
    return {
        "entering": entering,
        "leaving": leaving,
        "size_before": size_before,
        "size_after": size_before - leaving + entering,
        "evaluated": segment.last_evaluated_at is not None,
    }
