"""The sending policy page (admin role): the workspace's frequency cap and send window
(docs/sending-rules.md). The form shapes what the browser sends; the rules are
automation.send_rules' (`sending_policy_problems`), whose errors come back on the fields."""

import zoneinfo

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render

from accounts.roles import ADMIN, role_required
from automation.models import SendingPolicy
from automation.send_rules import (
    MAX_CAP_COUNT,
    MAX_CAP_HOURS,
    POLICY_FIELDS,
    WEEKDAYS,
    days_text,
    policy_window,
    sending_policy_problems,
    sending_policy_update,
)

DAY_CHOICES = [(str(number), name) for number, name in enumerate(WEEKDAYS, start=1)]


class SendingPolicyForm(forms.Form):
    frequency_cap_count = forms.IntegerField(
        label="At most this many marketing emails per contact",
        required=False,
        min_value=1,
        max_value=MAX_CAP_COUNT,
        help_text="Empty: no frequency cap. Transactional emails and test sends never count.",
    )
    frequency_cap_hours = forms.IntegerField(
        label="In any rolling window of (hours)",
        min_value=1,
        max_value=MAX_CAP_HOURS,
        initial=24,
    )
    send_window_enabled = forms.BooleanField(
        label="Only send marketing emails inside a send window",
        required=False,
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )
    send_window_start = forms.TimeField(
        label="Window opens at",
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    send_window_end = forms.TimeField(
        label="Window closes at",
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        help_text="Local time of each contact. A close before the open (20:00 to 06:00) is an "
        "overnight window, belonging to the day it opens.",
    )
    send_window_days = forms.MultipleChoiceField(
        label="On these days",
        choices=DAY_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
        help_text="None ticked: every day.",
    )
    default_timezone = forms.CharField(
        label="Time zone for contacts without one",
        max_length=64,
        widget=forms.TextInput(attrs={"list": "timezone-names", "autocomplete": "off"}),
        help_text="An IANA name, e.g. Europe/Paris.",
    )

    def clean(self):
        cleaned = super().clean()
        values = self.policy_values(cleaned)
        for name, problem in sending_policy_problems(values).items():
            if name not in self.errors:  # a field's own error (not a time, ...) says it first
                self.add_error(name, problem)
        return cleaned

    @staticmethod
    def policy_values(cleaned: dict) -> dict:
        values = {name: cleaned.get(name) for name in POLICY_FIELDS}
        values["send_window_enabled"] = bool(cleaned.get("send_window_enabled"))
        values["send_window_days"] = sorted(int(day) for day in cleaned.get("send_window_days", []))
        values["default_timezone"] = (cleaned.get("default_timezone") or "").strip()
        return values


def _initial(policy: SendingPolicy) -> dict:
    initial = {name: getattr(policy, name) for name in POLICY_FIELDS}
    initial["send_window_days"] = [str(day) for day in policy.send_window_days or []]
    return initial


def _page(request, *, form: SendingPolicyForm, policy: SendingPolicy, status: int = 200):
    window = policy_window(policy)
    context = {
        "form": form,
        "policy": policy,
        "window": window,
        "days_text": days_text(window.days) if window else "",
        "timezone_names": sorted(zoneinfo.available_timezones()),
    }
    return render(request, "web/settings/sending.html", context, status=status)


@role_required(ADMIN)
def sending_settings_page(request):
    policy = SendingPolicy.current()
    if request.method != "POST":
        return _page(request, form=SendingPolicyForm(initial=_initial(policy)), policy=policy)
    form = SendingPolicyForm(request.POST)
    if not form.is_valid():
        return _page(request, form=form, policy=policy, status=400)
    sending_policy_update(values=form.policy_values(form.cleaned_data))
    messages.success(request, "Sending policy saved. It applies to the next sends.")
    return redirect("settings-sending")
