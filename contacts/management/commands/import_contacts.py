import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from contacts.csv_files import csv_size_check
from contacts.csv_import import (
    contact_import_abandon,
    contact_import_create,
    contact_import_process,
)
from contacts.models import ContactImport, ImportStatus
from segflow.errors import InvalidInput


class Command(BaseCommand):
    help = (
        "Import contacts from a UTF-8 CSV file (header row first), in this process. Columns map "
        "to the built-in or custom field whose key or label matches their header; --map "
        "overrides. Re-importing updates the same contacts."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="Path of the CSV file")
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="COLUMN=KEY",
            help="Map a column to a field key ('Column=' ignores it; 'Column=tags' splits the "
            "cell into tags). Repeat for several columns.",
        )
        parser.add_argument(
            "--tag",
            action="append",
            default=[],
            metavar="NAME",
            help="Add this tag to every imported contact. Repeatable.",
        )

    def handle(self, *args, file: Path, map: list[str], tag: list[str], **options):
        mapping = {}
        for item in map:
            column, separator, key = item.rpartition("=")
            if not separator or not column.strip():
                raise CommandError(f"--map '{item}': write it as 'Column=key' (or 'Column=').")
            mapping[column.strip()] = key.strip()
        try:
            csv_size_check(size=file.stat().st_size)  # before reading it
            data = file.read_bytes()
            contact_import = contact_import_create(
                data=data, filename=file.name, mapping=mapping, tags=tag
            )
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror or exc}.") from None
        except InvalidInput as exc:
            problems = "\n".join(
                f"  {path}: {message}"
                for path, messages in exc.errors.items()
                for message in messages
            )
            raise CommandError(f"{file} cannot be imported:\n{problems}") from None
        self.stdout.write(
            f"Import #{contact_import.pk}: {contact_import.total_rows} rows, columns "
            + ", ".join(
                f"{column} -> {key or '(ignored)'}"
                for column, key in contact_import.mapping.items()
            )
        )
        started = time.monotonic()

        def show_progress(progress: ContactImport) -> None:
            elapsed = max(time.monotonic() - started, 1e-6)
            percent = 100 * progress.processed_rows / progress.total_rows
            self.stdout.write(
                f"  {progress.processed_rows}/{progress.total_rows} rows ({percent:.0f}%), "
                f"{progress.processed_rows / elapsed:.0f} rows/s"
            )

        try:
            result = contact_import_process(import_id=contact_import.pk, on_progress=show_progress)
        except KeyboardInterrupt:
            # Stopped by the user: not a stuck import for a worker to pick up later.
            done = ContactImport.objects.get(pk=contact_import.pk).processed_rows
            reason = f"Interrupted after {done} rows; import the file again to finish."
            contact_import_abandon(import_id=contact_import.pk, reason=reason)
            raise CommandError(reason) from None
        if result is None or result.status != ImportStatus.DONE:
            raise CommandError(f"Import #{contact_import.pk} did not finish.")
        self._summary(result)

    def _summary(self, result: ContactImport) -> None:
        self.stdout.write(
            f"Done: {result.created_count} created, {result.updated_count} updated, "
            f"{result.error_count} rows with errors."
        )
        for item in result.errors:
            for column, messages in item["errors"].items():
                where = f" {column}:" if column else ""
                for message in messages:
                    self.stdout.write(f"  row {item['row']}:{where} {message}")
        if result.error_count > len(result.errors):
            self.stdout.write(f"  ... and {result.error_count - len(result.errors)} more rows.")
