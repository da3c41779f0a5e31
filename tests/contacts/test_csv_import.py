import datetime as dt

import pytest
from django.utils import timezone

from contacts import csv_import
from contacts.csv_import import (
    contact_import_create,
    contact_import_process,
    contact_imports_reset_stuck,
)
from contacts.models import Contact, ContactImport, ImportStatus
from contacts.signals import contacts_changed
from segflow.errors import InvalidInput
from tests.factories import ContactFactory, ContactImportFactory, CustomFieldFactory

pytestmark = pytest.mark.django_db


def _csv(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def _import(data: bytes, **kwargs) -> ContactImport:
    contact_import = contact_import_create(data=data, **kwargs)
    return contact_import_process(import_id=contact_import.pk)


def _errors_of(call) -> dict[str, list[str]]:
    with pytest.raises(InvalidInput) as caught:
        call()
    return caught.value.errors


class _Crash(BaseException):
    """Stands for the worker dying between two chunks (not an error the import handles)."""


# --- mapping ----------------------------------------------------------------------------------


def test_headers_map_to_builtin_keys_and_custom_field_keys_or_labels():
    # given
    CustomFieldFactory(key="plan", label="Plan name", type="choice", choices=["free", "pro"])
    CustomFieldFactory(key="seats", label="Seats", type="number")
    data = _csv(
        "E-mail,First Name,country,Time zone,PLAN NAME,seats",
        "Ann@Example.com,Ann,fr,europe/paris,Pro,3",
    )
    # when
    result = _import(data)
    # then
    assert result.mapping == {
        "E-mail": "email",
        "First Name": "first_name",
        "country": "country",
        "Time zone": "timezone",
        "PLAN NAME": "plan",
        "seats": "seats",
    }
    contact = Contact.objects.get()
    assert (contact.email, contact.first_name, contact.country, contact.timezone) == (
        "ann@example.com",
        "Ann",
        "FR",
        "Europe/Paris",
    )
    assert contact.fields == {"plan": "pro", "seats": 3}


def test_explicit_mapping_overrides_ignores_and_splits_tags():
    CustomFieldFactory(key="first_name_note", label="First name", type="text")
    data = _csv(
        "Mail,First name,Internal notes,Segments",
        'bob@example.com,Bob,do not import,"VIP; beta, newsletter"',
    )

    result = _import(
        data,
        mapping={
            "Mail": "email",
            "First name": "fields.first_name_note",
            "Internal notes": "",
            "Segments": "tags",
        },
    )

    assert result.status == ImportStatus.DONE
    contact = Contact.objects.get()
    assert contact.email == "bob@example.com"
    assert contact.first_name is None
    assert contact.fields == {"first_name_note": "Bob"}
    assert sorted(tag.name for tag in contact.tags.all()) == ["VIP", "beta", "newsletter"]


def test_unmapped_columns_are_refused_by_name():
    data = _csv("email,Favourite colour,Shoe size", "a@example.com,red,42")

    errors = _errors_of(lambda: contact_import_create(data=data))

    assert set(errors) == {"mapping.Favourite colour", "mapping.Shoe size"}
    assert "matches no contact field" in errors["mapping.Shoe size"][0]
    assert not ContactImport.objects.exists()


def test_mapping_to_unknown_key_or_missing_column_is_refused():
    data = _csv("email,Plan", "a@example.com,pro")

    errors = _errors_of(
        lambda: contact_import_create(data=data, mapping={"Plan": "plna", "Seats": "seats"})
    )

    assert "Unknown field key 'plna'" in errors["mapping.Plan"][0]
    assert "No column 'Seats'" in errors["mapping.Seats"][0]


def test_two_columns_for_one_field_are_refused():
    data = _csv("email,Email address", "a@example.com,b@example.com")

    errors = _errors_of(lambda: contact_import_create(data=data))

    assert "'email'" in errors["mapping"][0]


def test_a_column_identifying_contacts_is_required():
    data = _csv("first_name", "Ann")

    errors = _errors_of(lambda: contact_import_create(data=data))

    assert "email" in errors["mapping"][0] and "external_id" in errors["mapping"][0]


def test_duplicate_header_is_refused():
    errors = _errors_of(lambda: contact_import_create(data=_csv("email,email", "a@x.io,b@x.io")))

    assert "appears more than once" in errors["file"][0]


def test_unnamed_column_is_ignored_when_empty_and_refused_with_values():
    assert _import(_csv("email,", "a@example.com,")).created_count == 1

    errors = _errors_of(lambda: contact_import_create(data=_csv("email,", "b@example.com,x")))

    assert errors["file"] == ["Column 2 has values but no name in the header."]


def test_import_tags_are_validated_at_creation():
    errors = _errors_of(lambda: contact_import_create(data=_csv("email", "a@x.io"), tags=[" "]))

    assert errors == {"tags[0]": ["Must not be blank."]}


# --- file format -------------------------------------------------------------------------------


def test_bom_and_semicolons_are_read():
    data = "\ufeffemail;first_name;last_name\nann@example.com;Ann;Lee\n".encode()

    result = _import(data)

    assert result.mapping == {
        "email": "email",
        "first_name": "first_name",
        "last_name": "last_name",
    }
    assert Contact.objects.values_list("email", "first_name", "last_name").get() == (
        "ann@example.com",
        "Ann",
        "Lee",
    )


def test_tab_separated_file_with_quoted_cells_and_crlf_is_read():
    data = b'email\tfirst_name\r\nann@example.com\t"Ann; Marie, ""AM"""\r\n'

    _import(data)

    assert Contact.objects.get().first_name == 'Ann; Marie, "AM"'


def test_non_utf8_file_is_refused():
    errors = _errors_of(
        lambda: contact_import_create(data="email\nzoé@example.com\n".encode("latin-1"))
    )

    assert "not UTF-8" in errors["file"][0]


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"", "empty"), (b"\n\n", "empty"), (b"email\n\n", "no rows"), (b"email\x00\n", "NUL")],
)
def test_file_without_rows_or_with_nul_is_refused(data, message):
    errors = _errors_of(lambda: contact_import_create(data=data))

    assert message in errors["file"][0]


def test_blank_lines_are_skipped_but_keep_their_row_number():
    data = _csv("email,country", "a@example.com,FR", "", "b@example.com,XX")

    result = _import(data)

    assert (result.total_rows, result.processed_rows, result.created_count) == (2, 2, 1)
    [error] = result.errors
    assert (error["row"], list(error["errors"])) == (3, ["country"])


# --- values --------------------------------------------------------------------------------------


def test_custom_field_values_are_normalised_to_their_type():
    CustomFieldFactory(key="seats", type="number")
    CustomFieldFactory(key="trial", type="boolean")
    CustomFieldFactory(key="signup_day", type="date")
    CustomFieldFactory(key="trial_ends_at", type="datetime")
    CustomFieldFactory(key="plan", type="choice", choices=["Free", "Pro"])
    data = _csv(
        "email,seats,trial,signup_day,trial_ends_at,plan",
        "a@example.com, 12 ,Yes,2026-03-01,2026-03-15T10:00:00+02:00,pro",
    )

    _import(data)

    assert Contact.objects.get().fields == {
        "seats": 12,
        "trial": True,
        "signup_day": "2026-03-01",
        "trial_ends_at": "2026-03-15T08:00:00Z",
        "plan": "Pro",
    }


def test_blank_cell_leaves_the_existing_value_unchanged():
    CustomFieldFactory(key="plan", type="text")
    ContactFactory(email="a@example.com", first_name="Ann", last_name="Lee", fields={"plan": "pro"})

    _import(_csv("email,first_name,last_name,plan", "a@example.com,,Smith,"))

    contact = Contact.objects.get()
    assert (contact.first_name, contact.last_name, contact.fields) == (
        "Ann",
        "Smith",
        {"plan": "pro"},
    )


def test_rows_with_errors_are_reported_by_row_and_column_while_valid_rows_are_imported():
    CustomFieldFactory(key="seats", label="Seats", type="number")
    data = _csv(
        "email,Seats,country",
        "ok1@example.com,1,FR",
        "not-an-email,2,FR",
        "ok2@example.com,many,Mars",
        ",3,DE",
        "ok3@example.com,4,DE,extra",
        "ok4@example.com,5,de",
    )

    result = _import(data)

    assert (result.created_count, result.updated_count, result.error_count) == (2, 0, 4)
    assert [item["row"] for item in result.errors] == [2, 3, 4, 5]
    assert set(result.errors[0]["errors"]) == {"email"}
    assert set(result.errors[1]["errors"]) == {"Seats", "country"}
    assert result.errors[2]["errors"] == {"email": ["Give an email or an external_id."]}
    assert "4 cells" in result.errors[3]["errors"][""][0]
    assert set(Contact.objects.values_list("email", flat=True)) == {
        "ok1@example.com",
        "ok4@example.com",
    }


def test_stored_errors_are_capped_but_all_counted(monkeypatch):
    monkeypatch.setattr(csv_import, "MAX_STORED_ERRORS", 2)
    data = _csv("email", *[f"bad{n}" for n in range(5)])

    result = _import(data)

    assert result.error_count == 5
    assert [item["row"] for item in result.errors] == [1, 2]


def test_reimport_updates_the_same_contacts():
    CustomFieldFactory(key="plan", type="text")
    data = _csv("email,external_id,plan", "a@example.com,u-1,free", "b@example.com,,pro")
    _import(data)
    ids = set(Contact.objects.values_list("pk", flat=True))

    again = _import(data)

    assert (again.created_count, again.updated_count, again.error_count) == (0, 2, 0)
    assert set(Contact.objects.values_list("pk", flat=True)) == ids


def test_tags_from_column_and_import_are_added():
    ContactFactory(email="a@example.com")

    _import(_csv("email,tags", "a@example.com,VIP;beta", "b@example.com,"), tags=["fair-2026"])

    tags = {
        c.email: sorted((t.name for t in c.tags.all()), key=str.lower)
        for c in Contact.objects.all()
    }
    assert tags == {"a@example.com": ["beta", "fair-2026", "VIP"], "b@example.com": ["fair-2026"]}


# --- chunks, claims and resume -------------------------------------------------------------


def test_progress_is_committed_per_chunk(settings):
    settings.CONTACT_IMPORT_CHUNK_SIZE = 2
    contact_import = contact_import_create(data=_csv("email", *[f"p{n}@x.io" for n in range(5)]))
    seen = []

    contact_import_process(
        import_id=contact_import.pk,
        on_progress=lambda progress: seen.append(
            ContactImport.objects.values_list("processed_rows", "created_count").get()
        ),
    )

    assert seen == [(2, 2), (4, 4), (5, 5)]


def test_processing_resumes_at_processed_rows_after_a_crash(settings):
    # given: a run that died after its first chunk of two rows
    settings.CONTACT_IMPORT_CHUNK_SIZE = 2
    contact_import = contact_import_create(data=_csv("email", *[f"r{n}@x.io" for n in range(5)]))

    def crash(progress):
        raise _Crash

    with pytest.raises(_Crash):
        contact_import_process(import_id=contact_import.pk, on_progress=crash)
    contact_import.refresh_from_db()
    assert (contact_import.status, contact_import.processed_rows) == ("running", 2)
    # when: the stuck import is reset and processed again
    later = timezone.now() + dt.timedelta(seconds=settings.CONTACT_IMPORT_STUCK_AFTER + 1)
    assert contact_imports_reset_stuck(now=later) == [contact_import.pk]
    result = contact_import_process(import_id=contact_import.pk)
    # then: every row counted once, the first two not re-imported
    assert result.status == ImportStatus.DONE
    assert (result.processed_rows, result.created_count, result.updated_count) == (5, 5, 0)
    assert Contact.objects.count() == 5


def test_a_claimed_import_is_not_processed_twice():
    contact_import = ContactImportFactory(status=ImportStatus.RUNNING, claimed_at=timezone.now())

    assert contact_import_process(import_id=contact_import.pk) is None

    contact_import.refresh_from_db()
    assert contact_import.processed_rows == 0
    assert not Contact.objects.exists()


def test_a_worker_whose_claim_was_reset_stops_before_its_next_chunk(settings):
    settings.CONTACT_IMPORT_CHUNK_SIZE = 1
    contact_import = contact_import_create(data=_csv("email", "a@x.io", "b@x.io", "c@x.io"))
    later = timezone.now() + dt.timedelta(seconds=settings.CONTACT_IMPORT_STUCK_AFTER + 1)

    def reset_after_first_chunk(progress):
        if progress.processed_rows == 1:
            contact_imports_reset_stuck(now=later)

    stale = contact_import_process(import_id=contact_import.pk, on_progress=reset_after_first_chunk)
    result = contact_import_process(import_id=contact_import.pk)

    assert stale is None
    assert (result.processed_rows, result.created_count, result.updated_count) == (3, 3, 0)


def test_reset_skips_imports_claimed_recently_or_finished(settings):
    now = timezone.now()
    timeout = dt.timedelta(seconds=settings.CONTACT_IMPORT_STUCK_AFTER)
    stuck = ContactImportFactory(status=ImportStatus.RUNNING, claimed_at=now - timeout * 2)
    lost = ContactImportFactory(status=ImportStatus.PENDING, created_at=now - timeout * 2)
    ContactImportFactory(status=ImportStatus.RUNNING, claimed_at=now - timeout / 2)
    ContactImportFactory(status=ImportStatus.PENDING, created_at=now)
    ContactImportFactory(status=ImportStatus.DONE, claimed_at=now - timeout * 2)

    assert contact_imports_reset_stuck(now=now) == [stuck.pk, lost.pk]

    stuck.refresh_from_db()
    assert (stuck.status, stuck.claimed_at) == (ImportStatus.PENDING, None)


def test_reset_enqueues_the_stuck_import(settings, django_capture_on_commit_callbacks):
    contact_import = contact_import_create(data=_csv("email", "a@x.io"))
    later = timezone.now() + dt.timedelta(seconds=settings.CONTACT_IMPORT_STUCK_AFTER + 1)

    with django_capture_on_commit_callbacks(execute=True):
        contact_imports_reset_stuck(now=later)

    contact_import.refresh_from_db()
    assert contact_import.status == ImportStatus.DONE
    assert Contact.objects.get().email == "a@x.io"


def test_a_chunk_announces_its_contacts_once_per_kind_of_change(
    django_capture_on_commit_callbacks,
):
    # given
    announced = []

    def receiver(sender, *, contact_ids, changes, **kwargs):
        announced.append((contact_ids, set(changes)))

    contacts_changed.connect(receiver, dispatch_uid="tests.csv_import")
    contact_import = contact_import_create(
        data=_csv("email,first_name", "a@x.io,Ann", "b@x.io,Bob", "c@x.io,")
    )
    # when
    try:
        with django_capture_on_commit_callbacks(execute=True):
            contact_import_process(import_id=contact_import.pk)
    finally:
        contacts_changed.disconnect(dispatch_uid="tests.csv_import")
    # then
    ids = dict(Contact.objects.values_list("email", "pk"))
    assert announced == [
        ([ids["a@x.io"], ids["b@x.io"]], {"field:email", "field:first_name"}),
        ([ids["c@x.io"]], {"field:email"}),
    ]


@pytest.mark.postgresql
@pytest.mark.parametrize("rows_per_chunk", [10, 40])
def test_query_count_is_fixed_per_chunk_whatever_its_rows(
    settings, django_assert_num_queries, rows_per_chunk
):
    settings.CONTACT_IMPORT_CHUNK_SIZE = rows_per_chunk
    contact_import = contact_import_create(
        data=_csv("email,first_name", *[f"q{n}@x.io,Q" for n in range(rows_per_chunk * 2)])
    )

    # claim, load the import, load field definitions; per chunk: transaction (2), lock the
    # import, asynchronous commit, savepoint (2), index probes on and off (2), find contacts,
    # insert the new ones, record the changes for segments, save progress
    with django_assert_num_queries(3 + 2 * 12):
        contact_import_process(import_id=contact_import.pk)
