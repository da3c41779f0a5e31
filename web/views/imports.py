"""CSV import pages: upload a file, map its columns, watch the import's progress, download its
row errors. The file is checked and kept as a draft at upload (contacts.csv_import); starting
it queues the import for a worker after commit, as the API does."""

from django import forms
from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from accounts.roles import MARKETER, role_required
from contacts.builtins import BUILTIN_FIELD_LABELS, BUILTIN_INPUTS
from contacts.csv_files import MB, CsvFile, csv_size_check
from contacts.csv_import import contact_import_start, contact_import_upload
from contacts.csv_import_errors import import_error_lines, import_errors_csv
from contacts.csv_mapping import TAGS, split_tags
from contacts.models import ContactImport, CustomField, ImportStatus
from segflow.errors import InvalidInput

RECENT = 20
SHOWN_ERRORS = 50
SAMPLE_ROWS = 3
IGNORE = "__ignore__"


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text="UTF-8 CSV (Excel's “CSV UTF-8”), separated by , ; or tab, a header row first.",
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        try:
            csv_size_check(size=upload.size)
        except InvalidInput as exc:
            raise forms.ValidationError(_messages(exc)) from None
        return upload


def _messages(exc: InvalidInput) -> list[str]:
    return [message for messages in exc.errors.values() for message in messages]


def _recent():
    fields = ["id", "filename", "status", "total_rows", "processed_rows", "error_count"]
    return ContactImport.objects.only(*fields, "created_at").order_by("-pk")[:RECENT]


@role_required(MARKETER)
@require_http_methods(["GET", "POST"])
def import_upload_page(request):
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            draft = contact_import_upload(data=upload.read(), filename=upload.name)
        except InvalidInput as exc:
            for message in _messages(exc):
                form.add_error("file", message)
        else:
            return redirect("contact-import-detail", pk=draft.pk)
    context = {
        "form": form,
        "imports": _recent(),
        "max_mb": settings.CONTACT_IMPORT_MAX_BYTES // MB,
    }
    return render(request, "web/imports/upload.html", context, status=400 if form.errors else 200)


def _targets() -> list[tuple[str, list[tuple[str, str]]]]:
    """Grouped <select> options: (group label, [(value, label)])."""
    custom = [(f.key, f"{f.label} ({f.key})") for f in CustomField.objects.order_by("label")]
    return [
        ("Contact", [(key, BUILTIN_FIELD_LABELS.get(key, key)) for key in BUILTIN_INPUTS]),
        ("Tags", [(TAGS, "Tags (split on , or ;)")]),
        ("Custom fields", custom),
    ]


def _columns(contact_import: ContactImport, chosen: dict[str, str], errors: dict) -> list[dict]:
    csv_file = CsvFile(contact_import.csv_text)
    samples: list[list[str]] = []
    for row in csv_file.rows():
        samples.append(row.cells)
        if len(samples) == SAMPLE_ROWS:
            break
    columns = []
    for index, name in enumerate(csv_file.header):
        if not name:
            continue
        columns.append(
            {
                "index": index,
                "name": name,
                "samples": [cells[index] for cells in samples if index < len(cells)],
                "selected": chosen.get(name),
                "errors": errors.get(f"mapping.{name}", []),
            }
        )
    return columns


def _chosen_mapping(request, contact_import: ContactImport) -> tuple[dict, dict]:
    """(the marketer's choice per column, {column: error}) from the mapping form."""
    header = CsvFile(contact_import.csv_text).header
    chosen: dict[str, str] = {}
    missing: dict[str, list[str]] = {}
    for index, name in enumerate(header):
        if not name:
            continue
        value = request.POST.get(f"column_{index}", "")
        if not value:
            missing[f"mapping.{name}"] = ["Choose a field for this column, or Ignore."]
        chosen[name] = value
    return chosen, missing


def _mapping_page(request, contact_import: ContactImport):
    if request.method == "GET":
        chosen = {name: (key or "") for name, key in contact_import.mapping.items()}  # suggestions
        context = {"columns": _columns(contact_import, chosen, {}), "tags": ""}
        return _render_mapping(request, contact_import, context)
    chosen, errors = _chosen_mapping(request, contact_import)
    tags_text = request.POST.get("tags", "")
    if not errors:
        mapping = {name: "" if value == IGNORE else value for name, value in chosen.items()}
        try:
            contact_import_start(
                import_id=contact_import.pk, mapping=mapping, tags=split_tags(tags_text)
            )
        except InvalidInput as exc:
            errors = exc.errors
        else:
            return redirect("contact-import-detail", pk=contact_import.pk)
    context = {
        "columns": _columns(contact_import, chosen, errors),
        "tags": tags_text,
        "general_errors": [
            message
            for path, messages in errors.items()
            if not path.startswith("mapping.")
            for message in messages
        ],
        "error_count": len(errors),
    }
    return _render_mapping(request, contact_import, context, status=400)


def _render_mapping(request, contact_import, context, status=200):
    context.update(
        {"import": contact_import, "targets": _targets(), "ignore": IGNORE},
    )
    return render(request, "web/imports/mapping.html", context, status=status)


@role_required(MARKETER)
@require_http_methods(["GET", "POST"])
def import_detail_page(request, pk: int):
    """A draft: its column mapping. Started: its progress (the bar's fragment when HTMX polls)."""
    contact_import = get_object_or_404(ContactImport, pk=pk)
    if contact_import.status == ImportStatus.DRAFT:
        return _mapping_page(request, contact_import)
    if request.method == "POST":
        return redirect("contact-import-detail", pk=pk)
    context = {
        "import": contact_import,
        "percent": _percent(contact_import),
        "finished": contact_import.status in (ImportStatus.DONE, ImportStatus.FAILED),
        "shown_errors": _shown_errors(contact_import),
    }
    template = "web/imports/_progress.html" if request.htmx else "web/imports/detail.html"
    return render(request, template, context)


def _percent(contact_import: ContactImport) -> int:
    if contact_import.status == ImportStatus.DONE:
        return 100
    if not contact_import.total_rows:
        return 0
    return min(100, contact_import.processed_rows * 100 // contact_import.total_rows)


def _shown_errors(contact_import: ContactImport) -> list[dict]:
    return [
        {"row": row, "column": column, "value": value, "message": message}
        for row, column, value, message in import_error_lines(contact_import, rows=SHOWN_ERRORS)
    ]


@role_required(MARKETER)
@require_GET
def import_errors_download(request, pk: int):
    contact_import = get_object_or_404(ContactImport, pk=pk)
    response = HttpResponse(
        "\ufeff" + import_errors_csv(contact_import), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="import-{pk}-errors.csv"'
    return response
