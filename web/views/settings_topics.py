"""Settings > Subscription topics (admin role): list, create, edit, delete. The rules are
contacts.topics' (the API's too); their errors come back onto the form field they name."""

from collections.abc import Iterator

from django import forms
from django.contrib import messages
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from accounts.roles import ADMIN, role_required
from automation.models import Flow, FlowStatus
from contacts.models import SubscriptionTopic
from contacts.topics import (
    KEY_RULE,
    OPT_IN,
    OPT_OUT,
    topic_create,
    topic_default,
    topic_delete,
    topic_update,
)
from segflow.errors import InvalidInput
from segments.models import Segment
from segments.tree import iter_conditions
from web.forms import form_errors_add

DEFAULT_CHOICES = [
    (OPT_IN, "Opt-in: contacts receive it until they opt out"),
    (OPT_OUT, "Opt-out: contacts receive it only once they opt in"),
]


class TopicForm(forms.Form):
    name = forms.CharField(max_length=200)
    key = forms.CharField(max_length=64, help_text=KEY_RULE + " It cannot change later.")
    description = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Shown to contacts in the preference center.",
    )
    default = forms.ChoiceField(choices=DEFAULT_CHOICES, label="Default", initial=OPT_IN)
    double_opt_in = forms.BooleanField(
        required=False,
        label="Double opt-in",
        help_text="Subscribing sends a confirmation email; the contact is subscribed once "
        "they follow its link. Needs the opt-out default.",
    )

    def __init__(self, *args, topic: SubscriptionTopic | None = None, **kwargs):
        if topic is not None:
            kwargs.setdefault(
                "initial",
                {
                    "name": topic.name,
                    "key": topic.key,
                    "description": topic.description,
                    "default": topic_default(topic),
                    "double_opt_in": topic.double_opt_in,
                },
            )
        super().__init__(*args, **kwargs)
        if topic is not None:
            del self.fields["key"]

    def add_input_errors(self, errors: dict[str, list[str]]) -> None:
        form_errors_add(self, errors, {name: name for name in self.fields})


def _send_topics(steps: object) -> Iterator[str]:
    """The topic of every send_email step of a flow's steps, at any depth."""
    for step in steps if isinstance(steps, list) else []:
        if not isinstance(step, dict):
            continue
        if step.get("type") == "send_email" and step.get("topic"):
            yield step["topic"]
        for path in ("yes", "no", "on_event", "on_timeout"):
            yield from _send_topics(step.get(path))
        for variant in step.get("variants") or []:
            if isinstance(variant, dict):
                yield from _send_topics(variant.get("steps"))


def topic_readers(*, key: str) -> list[str]:
    """Segments whose conditions and flows (not archived) whose send steps name the topic:
    what its deletion changes, said on the confirmation page."""
    readers = [
        f"Segment “{name}” (#{pk})"
        for pk, name, conditions in Segment.objects.values_list("pk", "name", "conditions")
        if any(
            leaf.get("type") == "subscription" and leaf.get("topic") == key
            for leaf in iter_conditions(conditions)
        )
    ]
    flows = Flow.objects.exclude(status=FlowStatus.ARCHIVED).values_list("pk", "name", "definition")
    readers += [
        f"Flow “{name}” (#{pk})"
        for pk, name, definition in flows
        if isinstance(definition, dict) and key in set(_send_topics(definition.get("steps")))
    ]
    return readers


def _topics():
    subscribed = Count("contactsubscription", filter=Q(contactsubscription__status="subscribed"))
    unsubscribed = Count(
        "contactsubscription", filter=Q(contactsubscription__status="unsubscribed")
    )
    pending = Count("contactsubscription", filter=Q(contactsubscription__status="pending"))
    return SubscriptionTopic.objects.annotate(
        opted_in=subscribed, opted_out=unsubscribed, pending=pending
    ).order_by("name", "key")


@role_required(ADMIN)
def topic_list_page(request):
    return render(request, "web/settings/topics.html", {"topics": _topics()})


@role_required(ADMIN)
@require_http_methods(["GET", "POST"])
def topic_create_page(request):
    form = TopicForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            topic = topic_create(**form.cleaned_data)
        except InvalidInput as exc:
            form.add_input_errors(exc.errors)
        else:
            messages.success(request, f"Topic “{topic.name}” ({topic.key}) created.")
            return redirect("settings-topics")
    status = 400 if form.errors else 200
    return render(request, "web/settings/topic_form.html", {"form": form}, status=status)


@role_required(ADMIN)
@require_http_methods(["GET", "POST"])
def topic_edit_page(request, pk: int):
    topic = get_object_or_404(SubscriptionTopic, pk=pk)
    form = TopicForm(request.POST or None, topic=topic)
    if request.method == "POST" and form.is_valid():
        try:
            topic = topic_update(topic=topic, data=form.cleaned_data)
        except InvalidInput as exc:
            form.add_input_errors(exc.errors)
        else:
            messages.success(request, f"Topic “{topic.name}” saved.")
            return redirect("settings-topics")
    context = {"form": form, "topic": topic}
    return render(
        request, "web/settings/topic_form.html", context, status=400 if form.errors else 200
    )


@role_required(ADMIN)
@require_http_methods(["GET", "POST"])
def topic_delete_page(request, pk: int):
    """GET asks for confirmation and says what deleting does; POST deletes."""
    topic = get_object_or_404(SubscriptionTopic, pk=pk)
    if request.method == "POST":
        topic_delete(topic=topic)
        messages.success(request, f"Topic “{topic.name}” ({topic.key}) deleted.")
        return redirect("settings-topics")
    context = {
        "topic": topic,
        "choices": topic.contactsubscription_set.count(),
        "readers": topic_readers(key=topic.key),
    }
    return render(request, "web/settings/topic_delete.html", context)
