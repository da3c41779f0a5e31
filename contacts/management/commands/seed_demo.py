import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from accounts.roles import ADMIN
from accounts.services import user_role_set
from automation.recipes import recipes_install
from contacts.api_keys import api_key_create
from contacts.demo_data import demo_data_exists, demo_dataset_create
from contacts.models import Contact
from segments.demo_data import demo_segments_create

DEMO_USERNAME = "demo"


class Command(BaseCommand):
    help = (
        "Create demo data (contacts with custom fields, tags, topics, 90 days of events and "
        "example segments), a demo admin login and an API key, and print how to use them."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Do nothing (but print how to log in) when contacts already exist.",
        )
        parser.add_argument("--contacts", type=int, default=3000, help="How many (default 3000)")
        parser.add_argument("--seed", type=int, default=2026, help="Random seed")

    def handle(self, *args, if_empty: bool, contacts: int, seed: int, **options):
        if not 1 <= contacts <= 1_000_000:
            raise CommandError("--contacts must be between 1 and 1,000,000.")
        if if_empty and Contact.objects.exists():
            self._print_existing()
            return
        if demo_data_exists():
            raise CommandError(
                "Demo contacts are already there. Start from an empty database "
                "(`python manage.py flush`) to seed again."
            )
        started = timezone.now()
        with transaction.atomic():
            summary = demo_dataset_create(contacts=contacts, now=started, seed=seed)
            segments = demo_segments_create()
            recipes = recipes_install()
            password = self._demo_user_ensure()
            _, raw_key = api_key_create(name="demo")
        seconds = (timezone.now() - started).total_seconds()
        self.stdout.write(
            f"Seeded {summary.contacts:,} contacts, {summary.events:,} events, "
            f"{summary.custom_fields} custom fields, {summary.tags} tags and "
            f"{summary.topics} subscription topics in {seconds:.1f} s; "
            f"{len(segments)} example segments, evaluated by the worker once it runs; "
            f"{len(recipes)} flow recipes, inactive until you activate one (docs/flow-recipes.md)."
        )
        self._print_access(password=password, raw_key=raw_key)

    def _demo_user_ensure(self) -> str:
        user_model = get_user_model()
        password = secrets.token_urlsafe(9)
        user, _ = user_model.objects.get_or_create(
            username=DEMO_USERNAME, defaults={"email": "demo@example.com"}
        )
        user.is_staff = user.is_superuser = user.is_active = True
        user.set_password(password)
        user.save()
        user_role_set(user=user, role=ADMIN)
        return password

    def _print_access(self, *, password: str, raw_key: str) -> None:
        url = settings.SITE_URL
        self.stdout.write(
            self.style.SUCCESS("\nSegflow is ready.")
            + f"""
  Web app   {url}/   user: {DEMO_USERNAME}   password: {password}
  Admin     {url}/admin/   (same login)
  API docs  {url}/api/docs/
  API key   {raw_key}

  Try it:
    curl -H "Authorization: Bearer {raw_key}" "{url}/api/v1/contacts?page_size=2"
"""
        )

    def _print_existing(self) -> None:
        url = settings.SITE_URL
        manage = ".venv/bin/python manage.py"
        if get_user_model().objects.filter(username=DEMO_USERNAME).exists():
            login = (
                f"user: {DEMO_USERNAME}, password printed on the first run "
                f"(reset it: {manage} changepassword {DEMO_USERNAME})"
            )
        else:
            login = f"create a login: {manage} createsuperuser"
        self.stdout.write(
            f"Data already present ({Contact.objects.count():,} contacts): nothing seeded.\n"
            f"  Web app   {url}/   {login}\n"
            f"  Admin     {url}/admin/   (same login)\n"
            f"  API key   {manage} create_api_key NAME   (prints a new key)\n"
            f"  API docs  {url}/api/docs/\n"
        )
