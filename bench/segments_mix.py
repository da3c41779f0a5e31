"""A realistic mix of segments for the bench's many-segment phases: field conditions, event
counts in windows, email activity and time-relative fields, nested as marketers build them.

Seeded, so every run builds the same trees over the generated dataset (bench/segments_data.py:
country, plan, company_size; page.viewed, login, email.*, purchase, form.submitted, ...).
"""

import random

COUNTRIES = ["FR", "DE", "US", "GB", "ES", "IT", "NL", "PL", "BE"]
PLANS = ["free", "starter", "pro", "enterprise"]
PAGES = ["/pricing", "/docs", "/features", "/signup"]


def _field(rng: random.Random, plans: list[str]) -> dict:
    match rng.randrange(5):
        case 0:
            return {
                "type": "field",
                "field": "country",
                "op": "in",
                "value": rng.sample(COUNTRIES, rng.randint(1, 3)),
            }
        case 1:
            return {"type": "field", "field": "plan", "op": "eq", "value": rng.choice(plans)}
        case 2:
            return {
                "type": "field",
                "field": "company_size",
                "op": rng.choice(["gt", "lt"]),
                "value": rng.choice([10, 50, 200, 1000]),
            }
        case 3:
            return {
                "type": "field",
                "field": "last_activity_at",
                "op": rng.choice(["within_last", "older_than"]),
                "value": {"days": rng.choice([7, 14, 30, 90])},
            }
        case _:
            return {"type": "field", "field": "plan", "op": "neq", "value": "free"}


def _event(rng: random.Random) -> dict:
    match rng.randrange(4):
        case 0:
            return {
                "type": "event",
                "event": "login",
                "op": "performed",
                "count": {"op": "gte", "value": rng.randint(2, 8)},
                "within": {"days": rng.choice([7, 14, 30])},
            }
        case 1:
            return {
                "type": "event",
                "event": "purchase",
                "op": rng.choice(["performed", "not_performed"]),
                "within": {"days": rng.choice([7, 30, 90])},
            }
        case 2:
            return {
                "type": "event",
                "event": "page.viewed",
                "op": "performed",
                "within": {"days": rng.choice([3, 7, 14])},
                "where": [{"property": "url", "op": "eq", "value": rng.choice(PAGES)}],
            }
        case _:
            return {
                "type": "event",
                "event": "form.submitted",
                "op": "performed",
                "within": {"days": 30},
            }


def _email(rng: random.Random) -> dict:
    return {
        "type": "email",
        "op": rng.choice(["opened", "clicked", "not_opened", "received"]),
        "within": {"days": rng.choice([7, 14, 30])},
    }


def mixed_tree(rng: random.Random, plans: list[str]) -> dict:
    """Two to four conditions under `all`, sometimes with an `any` or a `not` inside."""
    makers = [_field, _field, _event, _event, _email]
    nodes = []
    for _ in range(rng.randint(2, 4)):
        maker = rng.choice(makers)
        nodes.append(maker(rng, plans) if maker is _field else maker(rng))
    if rng.random() < 0.3:
        nodes.append({"any": [_event(rng), _email(rng)]})
    if rng.random() < 0.15:
        nodes.append({"not": _field(rng, plans)})
    return {"all": nodes}


def mixed_trees(count: int, *, seed: int = 7, plans: list[str] = PLANS) -> list[dict]:
    rng = random.Random(seed)
    return [mixed_tree(rng, plans) for _ in range(count)]


def mixed_segments_create(count: int, *, prefix: str, plans: list[str] = PLANS) -> list:
    """`count` validated segments with the mixed trees, not yet evaluated."""
    from segments.dependencies import dependency_keys
    from segments.models import Segment
    from segments.tree import is_time_relative
    from segments.validation import validate_conditions_or_raise

    segments = []
    for index, tree in enumerate(mixed_trees(count, plans=plans)):
        validate_conditions_or_raise(tree)
        segments.append(
            Segment(
                name=f"{prefix} {index + 1}",
                conditions=tree,
                dependency_keys=dependency_keys(tree),
                is_time_relative=is_time_relative(tree),
            )
        )
    return Segment.objects.bulk_create(segments)
