from django.core.management.base import BaseCommand

from automation.recipes import recipes_install


class Command(BaseCommand):
    help = (
        "Install the flow recipes (trial expiry, re-engagement, abandoned cart, lead-score "
        "threshold) as draft flows, with the fields, segments and email templates they need. "
        "Idempotent: what exists by name is left as it is. Nothing sends until a flow is "
        "activated."
    )

    def handle(self, *args, **options):
        for result in recipes_install():
            state = "installed (draft)" if result.created else "already there, left as it is"
            self.stdout.write(f"  flow {result.flow.pk:>4}  {result.name}: {state}")
