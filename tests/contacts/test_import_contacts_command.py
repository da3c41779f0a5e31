import io
import os
import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command

from contacts.models import Contact, ContactImport, ImportStatus
from tests.celery_worker import database_url_for_tests
from tests.factories import CustomFieldFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def csv_path(tmp_path):
    def write(text: str):
        path = tmp_path / "people.csv"
        path.write_text(text, encoding="utf-8")
        return path

    return write


def test_command_imports_and_prints_progress_and_summary(csv_path, settings, capsys):
    # given
    settings.CONTACT_IMPORT_CHUNK_SIZE = 2
    CustomFieldFactory(key="seats", type="number")
    path = csv_path("email,seats\na@x.io,1\nb@x.io,lots\nc@x.io,3\n")
    # when
    call_command("import_contacts", str(path))
    # then
    out = capsys.readouterr().out
    assert "3 rows, columns email -> email, seats -> seats" in out
    assert "2/3 rows (67%)" in out and "3/3 rows (100%)" in out and "rows/s" in out
    assert "Done: 2 created, 0 updated, 1 rows with errors." in out
    assert "row 2: seats: 'lots' is not a number." in out
    assert Contact.objects.count() == 2


def test_command_maps_columns_and_adds_tags(csv_path, capsys):
    path = csv_path("Mail,Notes,Groups\na@x.io,call back,vip;beta\n")

    call_command(
        "import_contacts",
        str(path),
        "--map",
        "Mail=email",
        "--map",
        "Notes=",
        "--map",
        "Groups=tags",
        "--tag",
        "fair-2026",
    )

    contact = Contact.objects.get()
    assert contact.email == "a@x.io"
    assert sorted(tag.name for tag in contact.tags.all()) == ["beta", "fair-2026", "vip"]
    assert "Notes -> (ignored)" in capsys.readouterr().out


def test_command_reimport_counts_updates(csv_path, capsys):
    path = csv_path("email,first_name\na@x.io,Ann\n")
    call_command("import_contacts", str(path))

    call_command("import_contacts", str(path))

    assert "Done: 0 created, 1 updated, 0 rows with errors." in capsys.readouterr().out
    assert Contact.objects.count() == 1


def test_command_refuses_a_file_it_cannot_import(csv_path):
    path = csv_path("email,Shoe size\na@x.io,42\n")

    with pytest.raises(CommandError) as caught:
        call_command("import_contacts", str(path))

    assert "mapping.Shoe size: Column 'Shoe size' matches no contact field" in str(caught.value)
    assert not Contact.objects.exists()


def test_command_refuses_a_bad_map_option_and_a_missing_file(csv_path, tmp_path):
    path = csv_path("email\na@x.io\n")

    with pytest.raises(CommandError, match="Column=key"):
        call_command("import_contacts", str(path), "--map", "email")
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_contacts", str(tmp_path / "missing.csv"))


def test_command_exits_non_zero_when_the_file_cannot_be_imported(csv_path):
    path = csv_path("email,Shoe size\na@x.io,42\n")

    finished = subprocess.run(
        [sys.executable, "manage.py", "import_contacts", str(path)],
        cwd=django_settings.BASE_DIR,
        env={**os.environ, "DATABASE_URL": database_url_for_tests()},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert finished.returncode == 1
    assert "Shoe size" in finished.stderr


class _InterruptedOutput(io.StringIO):
    """Ctrl-C while the command reports its first chunk."""

    def write(self, text):
        if "1/3 rows" in text:
            raise KeyboardInterrupt
        return super().write(text)


def test_interrupted_command_fails_the_import_keeping_committed_rows(csv_path, settings):
    settings.CONTACT_IMPORT_CHUNK_SIZE = 1
    path = csv_path("email\na@x.io\nb@x.io\nc@x.io\n")

    with pytest.raises(CommandError, match="Interrupted after 1 rows"):
        call_command("import_contacts", str(path), stdout=_InterruptedOutput())

    contact_import = ContactImport.objects.get()
    assert (contact_import.status, contact_import.processed_rows) == (ImportStatus.FAILED, 1)
    assert list(Contact.objects.values_list("email", flat=True)) == ["a@x.io"]


def test_command_leaves_a_finished_import_row(csv_path):
    call_command("import_contacts", str(csv_path("email\na@x.io\n")))

    assert ContactImport.objects.get().status == ImportStatus.DONE


def test_a_file_over_the_import_limit_is_refused_naming_the_limit(csv_path, settings):
    settings.CONTACT_IMPORT_MAX_BYTES = 1024 * 1024
    path = csv_path("email\n" + "someone@example.com\n" * 60_000)

    with pytest.raises(CommandError) as error:
        call_command("import_contacts", str(path))

    assert "imports are limited to 1 MB" in str(error.value)
    assert not ContactImport.objects.exists()
