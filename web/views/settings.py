from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.roles import ADMIN, role_required
from contacts.api_keys import api_key_create, api_key_revoke
from contacts.models import ApiKey
from web.forms import ApiKeyCreateForm


def _settings(request, *, form: ApiKeyCreateForm, new_key: str | None = None, status: int = 200):
    keys = ApiKey.objects.order_by("revoked_at", "-created_at")
    context = {"form": form, "api_keys": keys, "new_key": new_key}
    return render(request, "web/settings/index.html", context, status=status)


@role_required(ADMIN)
def settings_page(request):
    return _settings(request, form=ApiKeyCreateForm())


@role_required(ADMIN)
@require_POST
def api_key_create_page(request):
    form = ApiKeyCreateForm(request.POST)
    if not form.is_valid():
        return _settings(request, form=form, status=400)
    # Rendered, not redirected: the raw key is shown this once and stored nowhere.
    _, raw_key = api_key_create(name=form.cleaned_data["name"])
    return _settings(request, form=ApiKeyCreateForm(), new_key=raw_key)


@role_required(ADMIN)
@require_POST
def api_key_revoke_page(request, pk: int):
    api_key = get_object_or_404(ApiKey, pk=pk)
    api_key_revoke(api_key=api_key, now=timezone.now())
    messages.success(request, f"API key “{api_key.name}” revoked.")
    return redirect("settings")
