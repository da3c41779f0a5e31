"""Data for the ingestion bench: contacts loaded by COPY and a realistic stream of events.

The event mix: ~90% for existing contacts (by email or by external_id), ~10% for new emails
(the contact is created), ~30% with an idempotency_key of which a few are replays, a handful
of event names and properties of a few keys. Everything is seeded, so runs are comparable.
"""

import datetime as dt
import json
import random
from dataclasses import dataclass

import psycopg

EVENT_NAMES = (
    ["page.viewed"] * 40
    + ["login"] * 20
    + ["email.opened"] * 12
    + ["email.sent"] * 10
    + ["form.submitted"] * 6
    + ["purchase"] * 6
    + ["email.clicked"] * 6
)
PAGES = ["/", "/pricing", "/docs", "/blog/launch", "/signup", "/account", "/features"]
PLANS = ["free", "starter", "pro", "enterprise"]
NEW_CONTACT_SHARE = 0.10
KEYED_SHARE = 0.30
REPLAY_SHARE_OF_KEYED = 0.03


def contact_email(index: int) -> str:
    return f"person{index}@bench.example"


def contact_external_id(index: int) -> str | None:
    # Half the contacts come from a product database and carry its user id.
    return f"user-{index}" if index % 2 == 0 else None


def contacts_copy(*, conninfo: str, count: int) -> float:
    """COPY `count` contacts into contacts_contact; returns seconds taken."""
    now = dt.datetime.now(dt.UTC)
    rng = random.Random(7)
    started = dt.datetime.now()
    with psycopg.connect(conninfo) as conn, conn.cursor() as cursor:
        columns = (
            "email, external_id, first_name, last_name, country, email_status, lead_score, "
            "created_at, updated_at, fields"
        )
        with cursor.copy(f"COPY contacts_contact ({columns}) FROM STDIN") as copy:
            for index in range(count):
                fields = json.dumps({"plan": rng.choice(PLANS)})
                created = now - dt.timedelta(days=rng.randrange(1, 700))
                copy.write_row(
                    (
                        contact_email(index),
                        contact_external_id(index),
                        "Ada",
                        "Lovelace",
                        rng.choice(["FR", "DE", "US", "GB"]),
                        "active",
                        rng.randrange(0, 100),
                        created,
                        created,
                        fields,
                    )
                )
        cursor.execute("ANALYZE contacts_contact")
    return (dt.datetime.now() - started).total_seconds()


@dataclass
class EventStream:
    """Deterministic generator of event bodies (dicts, as a client would send them)."""

    contact_count: int
    seed: int = 1
    label: str = "run"

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._serial = 0
        self._recent_keys: list[str] = []
        self._now = dt.datetime.now(dt.UTC)

    def event(self) -> dict:
        rng = self._rng
        self._serial += 1
        if rng.random() < NEW_CONTACT_SHARE:
            body: dict = {"email": f"new-{self.label}-{self._serial}@bench.example"}
        else:
            index = rng.randrange(self.contact_count)
            external_id = contact_external_id(index)
            if external_id is not None and rng.random() < 0.5:
                body = {"external_id": external_id}
            else:
                body = {"email": contact_email(index)}
        name = rng.choice(EVENT_NAMES)
        body["name"] = name
        body["properties"] = self._properties(name)
        occurred = self._now - dt.timedelta(seconds=rng.randrange(0, 7 * 86400))
        body["occurred_at"] = occurred.isoformat().replace("+00:00", "Z")
        if rng.random() < KEYED_SHARE:
            if self._recent_keys and rng.random() < REPLAY_SHARE_OF_KEYED:
                body["idempotency_key"] = rng.choice(self._recent_keys)
            else:
                key = f"{self.label}-{self._serial}"
                self._recent_keys = [*self._recent_keys[-999:], key]
                body["idempotency_key"] = key
        return body

    def _properties(self, name: str) -> dict:
        rng = self._rng
        if name == "purchase":
            return {
                "amount": rng.randrange(500, 50000) / 100,
                "currency": "EUR",
                "plan": rng.choice(PLANS),
            }
        if name.startswith("email."):
            return {"template": rng.randrange(1, 40), "flow": rng.randrange(1, 10)}
        return {"url": rng.choice(PAGES), "referrer": "https://www.example.org/", "ms": 120}

    def batch(self, size: int) -> list[dict]:
        return [self.event() for _ in range(size)]
