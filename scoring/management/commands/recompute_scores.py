from django.core.management.base import BaseCommand

from scoring.recompute import scores_recompute


class Command(BaseCommand):
    help = (
        "Recompute every contact's lead_score from the score ledger and report the drift "
        "(contacts whose score is not their ledger's sum, and by how much); --fix sets them."
    )

    def add_arguments(self, parser):
        parser.add_argument("--fix", action="store_true", help="set drifted scores to the sum")

    def handle(self, *args, fix: bool, **options):
        drift = scores_recompute(fix=fix)
        self.stdout.write(f"contacts drifted: {drift.contacts}")
        self.stdout.write(f"total drift (points): {drift.total}")
        for contact_id, score, ledger in drift.samples:
            self.stdout.write(f"  contact {contact_id}: lead_score {score}, ledger {ledger}")
        if fix:
            self.stdout.write(f"fixed: {drift.fixed}")
