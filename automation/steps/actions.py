"""update_field, adjust_score and tag: writes to the contact through contacts' services, so
segments follow (each announces its change in this transaction)."""

from collections.abc import Sequence

from automation.cursor import Cursor, Run
from automation.models import StepRunStatus
from contacts.builtins import BUILTIN_INPUTS
from contacts.contact_input import contact_input_clean
from contacts.models import Contact
from contacts.scoring import contacts_score_adjust
from contacts.services import contact_update
from contacts.tags import contact_tags_add_many, contact_tags_remove
from segflow.errors import InvalidInput


def run_update_field(cursors: Sequence[Cursor], step: dict, run: Run) -> None:
    """The value is cleaned like any client write; a value the field no longer accepts (its
    type changed, the field was deleted) fails the step and the journey goes on."""
    field, value = step["field"], step["value"]
    data = {field: value} if field in BUILTIN_INPUTS else {"fields": {field: value}}
    try:
        clean = contact_input_clean(data)
    except InvalidInput as invalid:
        for cursor in cursors:
            cursor.record(
                status=StepRunStatus.FAILED, outcome="failed", detail={"error": str(invalid)}
            )
            cursor.advance(record=False)
        return
    for cursor in cursors:
        try:
            contact_update(
                contact=Contact(pk=cursor.contact_id), values=clean.values, fields=clean.fields
            )
        except InvalidInput as invalid:  # e.g. an email another contact has
            cursor.record(
                status=StepRunStatus.FAILED, outcome="failed", detail={"error": str(invalid)}
            )
            cursor.advance(record=False)
        else:
            cursor.advance()
    run.contacts_changed(cursors)


def run_adjust_score(cursors: Sequence[Cursor], step: dict, run: Run) -> None:
    flow_id = cursors[0].enrollment.flow_id
    contacts_score_adjust(
        contact_ids=[cursor.contact_id for cursor in cursors],
        delta=step["by"],
        reason=f"flow:{flow_id}:{step['id']}",
    )
    for cursor in cursors:
        cursor.advance()
    run.contacts_changed(cursors)


def run_tag(cursors: Sequence[Cursor], step: dict, run: Run) -> None:
    contact_ids = [cursor.contact_id for cursor in cursors]
    if step.get("add"):
        contact_tags_add_many(contact_ids=contact_ids, names=step["add"])
    if step.get("remove"):
        contact_tags_remove(contact_ids=contact_ids, names=step["remove"])
    for cursor in cursors:
        cursor.advance()
    run.contacts_changed(cursors)
