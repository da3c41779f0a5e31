from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render

from accounts.roles import MARKETER, role_required
from contacts.contact_input import contact_input_clean
from contacts.models import Contact, CustomField
from contacts.selectors import contact_list, contact_subscriptions_list
from contacts.services import contact_update
from segflow.errors import InvalidInput
from web.forms import ContactEditForm, ContactFilterForm
from web.keyset import keyset_page
from web.selectors import (
    contact_current_segments,
    contact_timeline,
    timeline_cursor_parse,
)

PAGE_SIZE = 50


def _exact_matches(term: str, filters: dict) -> list[int]:
    """Contacts whose email or external id is the term: two index lookups. A pasted email or
    id is the usual search, and the "contains" search reads the whole table when few match."""
    if not term or any(char.isspace() for char in term):
        return []
    found = list(contact_list(external_id=term, **filters).values_list("pk", flat=True)[:1])
    if "@" in term:
        found += contact_list(email=term, **filters).values_list("pk", flat=True)[:1]
    return found


@role_required(MARKETER)
def contact_list_page(request):
    form = ContactFilterForm(request.GET)
    page = None
    exact_only = False
    if form.is_valid():
        data = form.cleaned_data
        term = data["q"].strip()
        filters = {
            "tag": data["tag"] or None,
            "segment": data["segment"].pk if data["segment"] else None,
        }
        exact = [] if data["partial"] else _exact_matches(term, filters)
        if exact:
            exact_only = True
            contacts = contact_list(**filters).filter(pk__in=exact)
        else:
            contacts = contact_list(search=term or None, **filters)
        if data["field_q"] is not None:
            contacts = contacts.filter(data["field_q"])
        page = keyset_page(contacts, after=data["after"], before=data["before"], size=PAGE_SIZE)
    query = request.GET.copy()
    for cursor in ("after", "before"):
        query.pop(cursor, None)
    context = {
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "filtered": bool(query),
        "exact_only": exact_only,
    }
    return render(request, "web/contacts/list.html", context)


def _contact(pk: int) -> Contact:
    return get_object_or_404(Contact.objects.prefetch_related("tags"), pk=pk)


@role_required(MARKETER)
def contact_page(request, pk: int):
    contact = _contact(pk)
    definitions = list(CustomField.objects.all())
    known = {field.key for field in definitions}
    context = {
        "contact": contact,
        "custom_values": [(field, contact.fields.get(field.key)) for field in definitions],
        # Values whose definition was deleted meanwhile (or written before it existed).
        "orphan_values": sorted((k, v) for k, v in contact.fields.items() if k not in known),
        "tags": sorted((tag.name for tag in contact.tags.all()), key=str.lower),
        "memberships": contact_current_segments(contact=contact),
        "topics": contact_subscriptions_list(contact_id=contact.pk),
        "timeline": contact_timeline(contact=contact, before=None),
    }
    return render(request, "web/contacts/detail.html", context)


@role_required(MARKETER)
def contact_timeline_page(request, pk: int):
    """The next page of the activity timeline (HTMX "load more")."""
    contact = get_object_or_404(Contact.objects.only("id"), pk=pk)
    try:
        before = timeline_cursor_parse(request.GET.get("before"))
    except ValueError:
        raise Http404("Unknown timeline position.") from None
    timeline = contact_timeline(contact=contact, before=before)
    return render(
        request, "web/contacts/_timeline.html", {"contact": contact, "timeline": timeline}
    )


@role_required(MARKETER)
def contact_edit_page(request, pk: int):
    contact = _contact(pk)
    definitions = list(CustomField.objects.all())
    form = ContactEditForm(request.POST or None, contact=contact, definitions=definitions)
    if request.method == "POST" and form.is_valid():
        body = form.contact_input()
        if not body:
            messages.info(request, "Nothing changed.")
            return redirect("contact-detail", pk=contact.pk)
        try:
            clean = contact_input_clean(body, definitions={f.key: f for f in definitions})
            contact_update(
                contact=contact, values=clean.values, fields=clean.fields, tags=clean.tags
            )
        except InvalidInput as exc:
            form.add_input_errors(exc.errors)
        else:
            messages.success(request, "Contact saved.")
            return redirect("contact-detail", pk=contact.pk)
    return render(request, "web/contacts/edit.html", {"contact": contact, "form": form})
