"""Settings > Users (admin role): every user with its role and state, a form to create one
(username, email, password, role), a role change and deactivate / reactivate per row. The
rules (the last active admin stays) are accounts.users'."""

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.roles import ADMIN, MARKETER, role_required
from accounts.users import user_active_set, user_create, user_role, user_role_change
from segflow.errors import InvalidInput
from web.forms import form_errors_add

ROLE_CHOICES = [(MARKETER, "Marketer"), (ADMIN, "Admin")]


class UserCreateForm(forms.Form):
    username = forms.CharField(max_length=150)
    email = forms.EmailField(required=False)
    password = forms.CharField(
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="At least 8 characters, not too common, not only digits.",
    )
    role = forms.ChoiceField(
        choices=ROLE_CHOICES,
        initial=MARKETER,
        help_text="Marketers work with contacts, segments and imports; admins also reach Settings.",
    )

    def add_input_errors(self, errors: dict[str, list[str]]) -> None:
        form_errors_add(self, errors, {name: name for name in self.fields})


def _rows():
    users = get_user_model().objects.prefetch_related("groups").order_by("username")
    return [{"user": user, "role": _role_of(user)} for user in users]


def _role_of(user) -> str | None:
    if user.is_superuser:
        return ADMIN
    names = {group.name for group in user.groups.all()}  # prefetched
    return ADMIN if ADMIN in names else (MARKETER if MARKETER in names else None)


def _page(request, *, form: UserCreateForm, status: int = 200):
    context = {"form": form, "rows": _rows(), "role_choices": ROLE_CHOICES}
    return render(request, "web/settings/users.html", context, status=status)


@role_required(ADMIN)
def user_list_page(request):
    return _page(request, form=UserCreateForm())


@role_required(ADMIN)
@require_POST
def user_create_page(request):
    form = UserCreateForm(request.POST)
    if form.is_valid():
        try:
            user = user_create(**form.cleaned_data)
        except InvalidInput as exc:
            form.add_input_errors(exc.errors)
        else:
            messages.success(
                request, f"User “{user.username}” created ({form.cleaned_data['role']})."
            )
            return redirect("settings-users")
    return _page(request, form=form, status=400)


def _refused(request, exc: InvalidInput) -> None:
    for message_list in exc.errors.values():
        for message in message_list:
            messages.error(request, message)


@role_required(ADMIN)
@require_POST
def user_role_page(request, pk: int):
    user = get_object_or_404(get_user_model(), pk=pk)
    role = request.POST.get("role", "")
    try:
        user_role_change(user=user, role=role)
    except InvalidInput as exc:
        _refused(request, exc)
    else:
        messages.success(request, f"“{user.username}” is now {user_role(user)}.")
    return redirect("settings-users")


@role_required(ADMIN)
@require_POST
def user_active_page(request, pk: int):
    user = get_object_or_404(get_user_model(), pk=pk)
    active = request.POST.get("active") == "1"
    if user.pk == request.user.pk and not active:
        messages.error(request, "You cannot deactivate yourself.")
        return redirect("settings-users")
    try:
        user_active_set(user=user, active=active)
    except InvalidInput as exc:
        _refused(request, exc)
    else:
        state = "reactivated" if active else "deactivated: they can no longer log in"
        messages.success(request, f"“{user.username}” {state}.")
    return redirect("settings-users")
