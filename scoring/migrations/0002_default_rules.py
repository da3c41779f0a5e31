"""The default rules (docs/scoring.md), the workspace's decay row (off until enabled) and
the opening ledger row of every contact that already had a score."""

from django.db import migrations

DEFAULT_RULES = [
    {"name": "Email opened", "event": "email.opened", "where": [], "points": 1, "daily_cap": 5},
    {"name": "Email clicked", "event": "email.clicked", "where": [], "points": 3, "daily_cap": 15},
    {
        "name": "Pricing page viewed",
        "event": "page.viewed",
        # Pages are posted with a url or a path property (docs/data-model.md).
        "where": [{"property": "url", "op": "contains", "value": "pricing"}],
        "points": 5,
        "daily_cap": 15,
    },
    {
        "name": "Pricing page viewed (path)",
        "event": "page.viewed",
        "where": [
            {"property": "path", "op": "contains", "value": "pricing"},
            {"property": "url", "op": "is_not_set"},
        ],
        "points": 5,
        "daily_cap": 15,
    },
    {"name": "Form submitted", "event": "form.submitted", "where": [], "points": 10, "daily_cap": 30},
]


def create_defaults(apps, schema_editor):
    ScoringRule = apps.get_model("scoring", "ScoringRule")
    ScoreDecay = apps.get_model("scoring", "ScoreDecay")
    for rule in DEFAULT_RULES:
        ScoringRule.objects.get_or_create(
            name=rule["name"], defaults={**rule, "kind": "event", "active": True}
        )
    if not ScoreDecay.objects.exists():
        ScoreDecay.objects.create(active=False, percent=10, every_days=30)
    # Scores set before the ledger existed become each contact's opening row, so the score
    # is the ledger's sum from the start.
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO scoring_scoreledgerentry (contact_id, delta, reason, created_at) "
            "SELECT id, lead_score, 'opening balance', CURRENT_TIMESTAMP "
            "FROM contacts_contact WHERE lead_score <> 0"
        )


def remove_defaults(apps, schema_editor):
    ScoringRule = apps.get_model("scoring", "ScoringRule")
    ScoringRule.objects.filter(name__in=[rule["name"] for rule in DEFAULT_RULES]).delete()


class Migration(migrations.Migration):
    dependencies = [("scoring", "0001_ledger_rules")]

    operations = [migrations.RunPython(create_defaults, remove_defaults)]
