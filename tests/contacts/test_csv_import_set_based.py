"""The set-based import (contacts.csv_import_chunk on PostgreSQL): same outcomes as row by row,
duplicates inside a file, re-imports, identity conflicts, the fallback, segments following,
drafts of the web pages. Runs on SQLite too (test_csv_import_sqlite.py), where every chunk
takes the row-by-row path: the outcomes asserted here hold on both."""

import datetime as dt

import pytest
from django.utils import timezone

from contacts import csv_import_chunk
from contacts.csv_import import (
    contact_import_create,
    contact_import_drafts_purge,
    contact_import_process,
    contact_import_start,
    contact_import_upload,
)
from contacts.models import Contact, ContactImport, ImportStatus
from contacts.signals import contacts_changed
from segflow.errors import InvalidInput
from segments.evaluation import segment_evaluate
from segments.models import SegmentMembership
from segments.scheduler import contact_changes_process_batch
from segments.services import segment_create
from tests.factories import ContactFactory, CustomFieldFactory

pytestmark = pytest.mark.django_db


def _csv(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def _import(data: bytes, **kwargs) -> ContactImport:
    contact_import = contact_import_create(data=data, **kwargs)
    return contact_import_process(import_id=contact_import.pk)


@pytest.fixture
def announced():
    seen: list[tuple[list[int], set[str]]] = []

    def receiver(sender, *, contact_ids, changes, **kwargs):
        seen.append((list(contact_ids), set(changes)))

    contacts_changed.connect(receiver, dispatch_uid="tests.csv_import_set_based")
    yield seen
    contacts_changed.disconnect(dispatch_uid="tests.csv_import_set_based")


@pytest.mark.parametrize("chunk_size", [500, 2])
def test_duplicate_rows_in_a_file_apply_in_order_and_the_last_value_wins(settings, chunk_size):
    # given
    settings.CONTACT_IMPORT_CHUNK_SIZE = chunk_size
    CustomFieldFactory(key="plan", type="choice", choices=["free", "pro"])
    data = _csv(
        "email,first_name,plan,tags",
        "ann@x.io,Ann,free,a",
        "bob@x.io,Bob,free,",
        "ANN@x.io,,pro,b",
        "ann@x.io,Annie,,",
    )
    # when
    result = _import(data)
    # then: one contact per email, each row counted once (the first creates)
    assert (result.created_count, result.updated_count, result.error_count) == (2, 2, 0)
    ann = Contact.objects.get(email="ann@x.io")
    assert (ann.first_name, ann.fields) == ("Annie", {"plan": "pro"})
    assert sorted(tag.name for tag in ann.tags.all()) == ["a", "b"]
    assert Contact.objects.count() == 2


@pytest.mark.postgresql  # row by row (SQLite) announces every row it wrote
def test_reimporting_a_file_creates_nothing_and_announces_only_what_changed(announced):
    # given
    CustomFieldFactory(key="seats", type="number")
    data = _csv("email,external_id,seats", "a@x.io,u-1,1", "b@x.io,,2", "c@x.io,u-3,3")
    _import(data)
    ids = dict(Contact.objects.values_list("email", "pk"))
    announced.clear()
    # when: the same file again, then with one value changed
    again = _import(data)
    changed = _import(_csv("email,external_id,seats", "a@x.io,u-1,1", "b@x.io,,5"))
    # then
    assert (again.created_count, again.updated_count, again.error_count) == (0, 3, 0)
    assert (changed.created_count, changed.updated_count) == (0, 2)
    assert Contact.objects.count() == 3
    assert Contact.objects.get(email="b@x.io").fields == {"seats": 5}
    assert announced == [([ids["b@x.io"]], {"field:email", "fields.seats"})]


def test_external_id_identifies_first_then_email_and_fills_a_missing_external_id():
    a = ContactFactory(email="a@x.io", external_id="u-1")
    b = ContactFactory(email="b@x.io", external_id=None)

    result = _import(_csv("email,external_id,last_name", "new@x.io,u-1,A", "b@x.io,u-2,B"))

    assert (result.created_count, result.updated_count, result.error_count) == (0, 2, 0)
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.email, a.last_name) == ("new@x.io", "A")
    assert (b.external_id, b.last_name) == ("u-2", "B")


def test_rows_whose_email_and_external_id_name_two_contacts_are_errors_by_column():
    # given
    a = ContactFactory(email="a@x.io", external_id="u-1")
    b = ContactFactory(email="b@x.io", external_id="u-2")
    data = _csv(
        "Mail,Customer,first_name",
        "b@x.io,u-1,X",  # u-1 is a's, b@x.io is b's
        "a@x.io,u-9,Y",  # a@x.io is a's, whose external_id is u-1
        "c@x.io,u-3,Z",
    )
    # when
    result = _import(data, mapping={"Mail": "email", "Customer": "external_id"})
    # then
    assert (result.created_count, result.updated_count, result.error_count) == (1, 0, 2)
    assert result.errors == [
        {
            "row": 1,
            "errors": {
                "Mail": [
                    f"Contact {b.pk} already has this email, but external_id 'u-1' "
                    f"belongs to contact {a.pk}."
                ]
            },
        },
        {
            "row": 2,
            "errors": {
                "Customer": [f"This email belongs to contact {a.pk}, whose external_id is 'u-1'."]
            },
        },
    ]
    assert Contact.objects.filter(first_name__in=["X", "Y"]).count() == 0
    assert Contact.objects.get(email="c@x.io").first_name == "Z"


def test_two_rows_reaching_one_contact_by_different_identities_both_apply_in_order():
    ContactFactory(email="a@x.io", external_id="u-1")

    result = _import(_csv("email,external_id,first_name", "a@x.io,,First", ",u-1,Second"))

    assert (result.created_count, result.updated_count, result.error_count) == (0, 2, 0)
    assert Contact.objects.get().first_name == "Second"


@pytest.mark.postgresql
def test_a_contact_created_concurrently_is_redone_row_by_row(monkeypatch):
    # given: the lookup misses a contact that another writer created meanwhile
    ContactFactory(email="a@x.io", first_name="Old")
    monkeypatch.setattr(csv_import_chunk, "contacts_by_identity", lambda **kwargs: [])
    # when
    result = _import(_csv("email,first_name", "a@x.io,New", "b@x.io,Bob"))
    # then: the insert's conflict sends the chunk row by row, which finds the contact
    assert (result.created_count, result.updated_count, result.error_count) == (1, 1, 0)
    assert Contact.objects.get(email="a@x.io").first_name == "New"
    assert Contact.objects.count() == 2


def test_a_segment_on_an_imported_field_gains_the_imported_contacts():
    # given: a segment of pro customers, evaluated, with one member already
    now = timezone.now()
    CustomFieldFactory(key="plan", type="choice", choices=["free", "pro"])
    ContactFactory(email="old@x.io", fields={"plan": "pro"})
    segment = segment_create(
        name="Pro", conditions={"type": "field", "field": "plan", "op": "eq", "value": "pro"}
    )
    segment_evaluate(segment=segment, now=now)
    # when: an import makes two more contacts pro (one new, one existing) and one free
    ContactFactory(email="was-free@x.io", fields={"plan": "free"})
    _import(_csv("email,plan", "new@x.io,pro", "was-free@x.io,pro", "old@x.io,free"))
    contact_changes_process_batch(now=now + dt.timedelta(minutes=1))
    # then
    members = SegmentMembership.objects.filter(segment=segment, left_at__isnull=True)
    assert set(members.values_list("contact__email", flat=True)) == {"new@x.io", "was-free@x.io"}


# --- drafts (the web pages: upload, then map and start) ------------------------------------


def test_an_uploaded_draft_suggests_a_mapping_and_is_not_processed_until_started(
    django_capture_on_commit_callbacks,
):
    CustomFieldFactory(key="plan", label="Plan", type="text")
    draft = contact_import_upload(data=_csv("E-mail,Plan,Notes", "a@x.io,pro,hi"), filename="a.csv")

    assert (draft.status, draft.mapping) == (
        ImportStatus.DRAFT,
        {"E-mail": "email", "Plan": "plan", "Notes": ""},
    )
    assert contact_import_process(import_id=draft.pk) is None

    with django_capture_on_commit_callbacks(execute=True):
        contact_import_start(
            import_id=draft.pk, mapping={"E-mail": "email", "Plan": "plan", "Notes": ""}, tags=["x"]
        )

    draft.refresh_from_db()
    assert (draft.status, draft.created_count) == (ImportStatus.DONE, 1)
    assert Contact.objects.get().fields == {"plan": "pro"}


def test_starting_a_draft_checks_its_mapping_and_only_once():
    draft = contact_import_upload(data=_csv("email,Notes", "a@x.io,hi"))

    with pytest.raises(InvalidInput) as caught:
        contact_import_start(import_id=draft.pk, mapping={"email": "email", "Notes": "nope"})
    assert set(caught.value.errors) == {"mapping.Notes"}

    contact_import_start(import_id=draft.pk, mapping={"email": "email", "Notes": ""})
    with pytest.raises(InvalidInput):
        contact_import_start(import_id=draft.pk, mapping={"email": "email", "Notes": ""})


def test_drafts_left_for_a_day_are_purged():
    old = contact_import_upload(data=_csv("email", "a@x.io"))
    ContactImport.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=2))
    fresh = contact_import_upload(data=_csv("email", "a@x.io"))

    assert contact_import_drafts_purge() == 1
    assert list(ContactImport.objects.values_list("pk", flat=True)) == [fresh.pk]
