from django.core.management.base import BaseCommand, CommandError

from contacts.api_keys import api_key_create


class Command(BaseCommand):
    help = "Create an API key and print it (on the last line); it is shown only once."

    def add_arguments(self, parser):
        parser.add_argument("name", help="What the key is for, e.g. 'product backend'")

    def handle(self, *args, name: str, **options):
        name = name.strip()
        if not name or len(name) > 100:
            raise CommandError("Give the key a name of 1 to 100 characters.")
        api_key, raw_key = api_key_create(name=name)
        # Plain stdout, the key alone on the last line: `... | tail -n 1` captures it.
        self.stdout.write(
            f"Created API key #{api_key.pk} '{api_key.name}'. Store it now: it "
            "cannot be shown again. Use it as 'Authorization: Bearer <key>'."
        )
        self.stdout.write(raw_key)
