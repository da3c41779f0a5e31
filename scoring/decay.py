"""Score decay: every `every_days` days without activity, a contact's positive score loses
`percent` % (rounded up, so small scores reach 0), as one ledger row with reason "decay".

A contact's inactivity starts at last_activity_at (else created_at). Period n (n >= 1) of
that inactivity begins n * every_days after it; its row carries the key
"decay:<inactivity start, epoch seconds>:<n>", unique per contact, so running the task twice
in a period writes nothing the second time, and new activity starts the count again. A run
that missed periods applies one decay for the current period, not one per missed period.

Set-based: one statement picks the due contacts (no row for the current period yet), then
chunks of them are locked in id order, get their row and move their score in one statement.
"""

import datetime as dt

from django.db import connection, transaction

from contacts.signals import notify_contacts_changed
from scoring.ledger import SCORE_CHANGE
from scoring.models import ScoreDecay, ScoreLedgerEntry

DECAY_REASON = "decay"
CHUNK = 5000

_LEDGER = ScoreLedgerEntry._meta.db_table
_ANCHOR = "coalesce(c.last_activity_at, c.created_at)"
_KEY = (
    f"'decay:' || floor(extract(epoch FROM {_ANCHOR}))::bigint || ':' || "
    f"floor(extract(epoch FROM (%(now)s - {_ANCHOR})) / %(period)s)::bigint"
)

_DUE_SQL = f"""
SELECT c.id FROM contacts_contact c
WHERE c.lead_score > 0 AND {_ANCHOR} <= %(now)s - %(period)s * interval '1 second'
    AND NOT EXISTS (SELECT 1 FROM {_LEDGER} l WHERE l.contact_id = c.id AND l.key = {_KEY})
ORDER BY c.id
"""

_APPLY_SQL = f"""
WITH due AS (
    SELECT c.id, -ceil(c.lead_score * %(percent)s / 100.0)::integer AS delta, {_KEY} AS key
    FROM contacts_contact c
    WHERE c.id = ANY(%(ids)s) AND c.lead_score > 0
        AND {_ANCHOR} <= %(now)s - %(period)s * interval '1 second'
    ORDER BY c.id
    FOR UPDATE OF c
),
inserted AS (
    INSERT INTO {_LEDGER} (contact_id, rule_id, delta, reason, event_id, key, created_at)
    SELECT id, NULL, delta, %(reason)s, NULL, key, %(now)s FROM due WHERE delta <> 0
    ON CONFLICT (contact_id, key) DO NOTHING
    RETURNING contact_id, delta
)
UPDATE contacts_contact AS c SET lead_score = c.lead_score + i.delta
FROM inserted i WHERE c.id = i.contact_id
RETURNING c.id
"""


def scores_decay(*, now: dt.datetime) -> int:
    """Apply the workspace's decay for the current period; how many contacts decayed."""
    decay = ScoreDecay.objects.filter(active=True).first()
    if decay is None or connection.vendor != "postgresql" or not decay.percent:
        return 0
    params = {
        "now": now,
        "period": float(max(decay.every_days, 1) * 86400),
        "percent": min(decay.percent, 100),
        "reason": DECAY_REASON,
    }
    with connection.cursor() as cursor:
        cursor.execute(_DUE_SQL, params)
        due = [pk for (pk,) in cursor.fetchall()]
    decayed = 0
    for start in range(0, len(due), CHUNK):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_APPLY_SQL, {**params, "ids": due[start : start + CHUNK]})
            moved = [pk for (pk,) in cursor.fetchall()]
            notify_contacts_changed(moved, [SCORE_CHANGE])
        decayed += len(moved)
    return decayed
