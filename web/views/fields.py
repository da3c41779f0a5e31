from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from accounts.roles import MARKETER, role_required
from contacts.field_services import custom_field_create, custom_field_delete, custom_field_update
from contacts.field_usage import custom_field_readers
from contacts.models import CustomField
from segflow.errors import InvalidInput
from web.forms import CustomFieldCreateForm, CustomFieldEditForm


@role_required(MARKETER)
def field_list_page(request):
    return render(request, "web/fields/list.html", {"fields": CustomField.objects.all()})


@role_required(MARKETER)
def field_create_page(request):
    form = CustomFieldCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            field = custom_field_create(
                key=data["key"],
                label=data["label"],
                type=data["type"],
                choices=data["choices"] or None,
                description=data["description"],
            )
        except InvalidInput as exc:
            form.add_input_errors(exc.errors)
        else:
            messages.success(request, f"Field “{field.label}” ({field.key}) created.")
            return redirect("field-list")
    return render(request, "web/fields/create.html", {"form": form})


@role_required(MARKETER)
def field_edit_page(request, pk: int):
    field = get_object_or_404(CustomField, pk=pk)
    form = CustomFieldEditForm(request.POST or None, field=field)
    if request.method == "POST" and form.is_valid():
        try:
            custom_field_update(field=field, data=form.changes())
        except InvalidInput as exc:
            form.add_input_errors(exc.errors)
        else:
            messages.success(request, f"Field “{form.cleaned_data['label']}” saved.")
            return redirect("field-list")
    return render(request, "web/fields/edit.html", {"field": field, "form": form})


@role_required(MARKETER)
@require_http_methods(["GET", "POST"])
def field_delete_page(request, pk: int):
    """GET asks for confirmation and names what reads the field; POST deletes, unless a
    segment reads the field by then (the service's guard decides, inside its transaction)."""
    field = get_object_or_404(CustomField, pk=pk)
    error = None
    if request.method == "POST":
        try:
            custom_field_delete(field=field)
        except InvalidInput as exc:
            error = " ".join(message for messages_ in exc.errors.values() for message in messages_)
        else:
            messages.success(request, f"Field “{field.label}” ({field.key}) deleted.")
            return redirect("field-list")
    context = {"field": field, "readers": custom_field_readers(key=field.key), "error": error}
    return render(request, "web/fields/delete.html", context, status=409 if error else 200)
