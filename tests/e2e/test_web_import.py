"""A marketer imports a 1,000-row CSV with some bad rows through the pages: upload, map the
columns, watch the progress bar (polled from a real Celery worker's progress) finish, read the
row errors and download the error report."""

import csv
import io

import pytest
from playwright.sync_api import expect

from contacts.models import Contact, ContactImport, ImportStatus
from tests.e2e.web_fixtures import marketer, marketer_page  # noqa: F401
from tests.factories import CustomFieldFactory

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

ROWS = 1000


def _file(path) -> tuple[int, int]:
    """Write the CSV; (good rows, bad rows). Every 97th row has a bad email, every 89th a bad
    number of seats (a row can have both)."""
    lines = ["Email,First name,Plan,Seats,Notes"]
    bad = 0
    for n in range(1, ROWS + 1):
        email = f"bad-email-{n}" if n % 97 == 0 else f"buyer{n}@example.com"
        seats = "lots" if n % 89 == 0 else str(n % 40)
        bad += n % 97 == 0 or n % 89 == 0
        lines.append(f"{email},Buyer {n},{'pro' if n % 2 else 'free'},{seats},met at the fair")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ROWS - bad, bad


def test_import_a_csv_and_watch_it_finish_with_its_row_errors(
    marketer_page,  # noqa: F811
    server_url,
    screenshot,
    celery_worker_process,
    tmp_path,
):
    # given
    CustomFieldFactory(key="plan", label="Plan", type="choice", choices=["free", "pro"])
    CustomFieldFactory(key="seats", label="Seats", type="number")
    good, bad = _file(tmp_path / "fair-buyers.csv")
    page = marketer_page
    page.set_viewport_size({"width": 1280, "height": 900})
    # when: upload from the contacts list
    page.get_by_role("link", name="Contacts").first.click()
    page.get_by_role("link", name="Import", exact=True).click()
    page.get_by_label("CSV file").set_input_files(str(tmp_path / "fair-buyers.csv"))
    page.get_by_role("button", name="Upload and map columns").click()
    # then: the columns come with suggestions; Notes is for the marketer to decide
    expect(page.get_by_label("Email", exact=True)).to_have_value("email")
    expect(page.get_by_label("Seats", exact=True)).to_have_value("seats")
    page.get_by_role("button", name="Start import").click()
    expect(page.locator("#column_4_error")).to_have_text(
        "Choose a field for this column, or Ignore."
    )
    page.get_by_label("Notes", exact=True).select_option(label="Ignore this column")
    page.get_by_label("Tags to add to every imported contact").fill("fair-2026")
    screenshot("mapping-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot("mapping-390")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_role("button", name="Start import").click()
    # then: the bar fills to 100 % from the worker's committed chunks
    progress = page.locator("#import-progress")
    expect(progress).to_have_attribute("data-status", "done", timeout=90_000)
    expect(page.get_by_role("progressbar", name="Import progress")).to_have_attribute(
        "aria-valuenow", "100"
    )
    expect(page.locator("#count-created")).to_have_text(str(good))
    expect(page.locator("#count-errors")).to_have_text(str(bad))
    expect(page.locator("#error-table tbody tr").first).to_contain_text("'lots' is not a number.")
    expect(page.locator("#error-table")).to_contain_text("bad-email-97")  # the message quotes it
    screenshot("done-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot("done-390")
    # and the error report downloads with one line per error, values included
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the error report (CSV)").click()
    report = download_info.value.path().read_text(encoding="utf-8-sig")
    lines = list(csv.reader(io.StringIO(report)))
    assert lines[0] == ["row", "column", "value", "message"]
    assert ["89", "Seats", "lots", "'lots' is not a number."] in lines
    assert len({line[0] for line in lines[1:]}) == bad
    # and the database agrees
    contact_import = ContactImport.objects.get()
    assert contact_import.status == ImportStatus.DONE
    assert Contact.objects.count() == good
    assert Contact.objects.filter(tags__name="fair-2026").count() == good
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{server_url}/contacts/import/")
    screenshot("upload-390")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.reload()
    screenshot("upload-1280")
