"""Step handlers by type. A handler takes the cursors of one group (same version, same
step), the step and the run, and moves every cursor: on to another step, asleep, leased or
ended. Handlers work on the whole group at once (one query per group, bulk writes)."""

from automation.steps.actions import run_adjust_score, run_tag, run_update_field
from automation.steps.effects import run_send_email, run_webhook
from automation.steps.logic import run_branch, run_exit, run_split
from automation.steps.waits import run_wait, run_wait_for_event, run_wait_until

HANDLERS = {
    "wait": run_wait,
    "wait_until": run_wait_until,
    "wait_for_event": run_wait_for_event,
    "branch": run_branch,
    "split": run_split,
    "exit": run_exit,
    "update_field": run_update_field,
    "adjust_score": run_adjust_score,
    "tag": run_tag,
    "send_email": run_send_email,
    "webhook": run_webhook,
}
