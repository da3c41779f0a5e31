"""branch, split and exit: they choose a path (or end the journey) without side effects."""

import hashlib
from collections.abc import Sequence

from automation.conditions import contacts_matching
from automation.cursor import Cursor, Run
from automation.models import EnrollmentState

EXIT_STEP = "exit_step"


def run_branch(cursors: Sequence[Cursor], step: dict, run: Run) -> None:
    """One query for the whole group: "yes" for the contacts matching the condition."""
    matching = contacts_matching(
        tree=step["condition"], contact_ids=[c.contact_id for c in cursors], now=run.now
    )
    for cursor in cursors:
        outcome = "yes" if cursor.contact_id in matching else "no"
        cursor.advance(outcome=outcome, path=outcome)


def run_split(cursors: Sequence[Cursor], step: dict, run: Run) -> None:
    for cursor in cursors:
        index = split_variant(
            flow_id=cursor.enrollment.flow_id,
            contact_id=cursor.contact_id,
            step_id=step["id"],
            percents=[variant["percent"] for variant in step["variants"]],
        )
        if index is None:  # percentages short of 100: the rest skips the split
            cursor.advance(outcome="none")
        else:
            cursor.advance(outcome=f"variant:{index}", path=f"variants[{index}]")


def split_variant(
    *, flow_id: int, contact_id: int, step_id: str, percents: Sequence[float]
) -> int | None:
    """The variant of a contact: a stable hash of (flow, contact, step) placed in 10,000
    buckets, the variants taking consecutive ranges by their percentages. The same contact
    gets the same variant in every enrollment and every version of the flow."""
    digest = hashlib.sha256(f"{flow_id}:{contact_id}:{step_id}".encode()).digest()
    bucket = int.from_bytes(digest[:8], "big") % 10_000
    upper = 0.0
    for index, percent in enumerate(percents):
        upper += percent * 100
        if bucket < upper:
            return index
    return None


def run_exit(cursors: Sequence[Cursor], step: dict, run: Run) -> None:
    for cursor in cursors:
        cursor.record()
        cursor.end(EnrollmentState.EXITED, EXIT_STEP)
