import datetime as dt

import pytest
from django.test import override_settings

from automation import rendering
from automation.html_text import html_to_text
from automation.models import EmailTemplate
from automation.rendering import (
    TemplateRenderError,
    template_compile,
    template_preview,
    template_render,
)
from automation.tokens import preferences_token_read, unsubscribe_token_read
from tests.factories import (
    ContactFactory,
    ContactTagFactory,
    EmailTemplateFactory,
    EventFactory,
    FlowFactory,
    TagFactory,
)

pytestmark = pytest.mark.django_db


def unsaved(html: str, subject: str = "Hi", text: str = "") -> EmailTemplate:
    return EmailTemplate(name="t", subject=subject, html=html, text=text)


def preview_html(html: str, **kwargs) -> str:
    contact = kwargs.pop("contact", None) or ContactFactory(first_name="Ada")
    return template_preview(template=unsaved(html), contact=contact, **kwargs).html


def test_contact_builtins_custom_fields_and_tags_are_in_the_context():
    contact = ContactFactory(first_name="Ada", country="GB", fields={"plan": "pro"})
    ContactTagFactory(contact=contact, tag=TagFactory(name="vip"))

    html = preview_html(
        "{{ contact.first_name }} {{ contact.country }} {{ contact.fields.plan }} "
        "{{ contact.tags | join(',') }} {{ contact.id }}",
        contact=contact,
    )

    assert html == f"Ada GB pro vip {contact.pk}"


def test_trigger_event_properties_render_including_a_key_named_items():
    event = EventFactory(
        name="cart.updated",
        properties={"items": [{"name": "Lamp", "price": 30}, {"name": "Desk", "price": 200}]},
    )

    html = preview_html(
        "{{ event.name }}:{% for item in event.properties.items %} {{ item.name }}={{ item.price }}"
        "{% endfor %}",
        contact=event.contact,
        event=event,
    )

    assert html == "cart.updated: Lamp=30 Desk=200"


def test_flow_is_in_the_context():
    flow = FlowFactory(name="Welcome")

    assert preview_html("{{ flow.name }}", flow=flow) == "Welcome"


def test_an_undefined_attribute_fails_with_its_name_part_and_line():
    template = unsaved("<p>Hello</p>\n\n<p>{{ contact.frist_name }}</p>")

    with pytest.raises(TemplateRenderError) as caught:
        template_preview(template=template, contact=ContactFactory())

    assert caught.value.reason == (
        "template error: 'contact' has no attribute 'frist_name' (html, line 3)"
    )
    assert (caught.value.part, caught.value.line) == ("html", 3)


def test_an_undefined_custom_field_names_contact_fields():
    with pytest.raises(TemplateRenderError, match="'contact.fields' has no attribute 'plan'"):
        preview_html("{{ contact.fields.plan }}")


def test_default_applies_to_an_undefined_value_and_to_an_empty_builtin():
    contact = ContactFactory(first_name=None)

    html = preview_html(
        "{{ contact.first_name | default('there') }} {{ contact.fields.plan | default('free') }}",
        contact=contact,
    )

    assert html == "there free"


def test_event_is_none_without_a_trigger_event():
    assert preview_html("{% if event is none %}no event{% endif %}") == "no event"


def test_html_is_autoescaped_but_subject_and_text_are_not():
    contact = ContactFactory(first_name="<b>Tom & Jerry</b>")
    template = unsaved(
        "<p>{{ contact.first_name }}</p>",
        subject="{{ contact.first_name }}",
        text="{{ contact.first_name }}",
    )

    rendered = template_preview(template=template, contact=contact)

    assert rendered.html == "<p>&lt;b&gt;Tom &amp; Jerry&lt;/b&gt;</p>"
    assert rendered.subject == "<b>Tom & Jerry</b>"
    assert rendered.text == "<b>Tom & Jerry</b>"


def test_subject_line_breaks_collapse_so_headers_cannot_be_injected():
    template = unsaved("x", subject="Hi\r\nBcc: victim@example.com\n {{ contact.first_name }}")

    rendered = template_preview(template=template, contact=ContactFactory(first_name="Ada"))

    assert rendered.subject == "Hi Bcc: victim@example.com Ada"


def test_text_is_derived_from_the_html_when_the_template_has_none():
    template = unsaved(
        '<p>Hi {{ contact.first_name }},</p><p>See <a href="https://x.io/a">it</a></p>'
    )

    rendered = template_preview(template=template, contact=ContactFactory(first_name="Ada"))

    assert rendered.text == "Hi Ada,\n\nSee it (https://x.io/a)\n"


def test_html_to_text_drops_head_style_and_script_and_lists_items():
    html = (
        "<html><head><title>T</title><style>p {color: red}</style></head><body>"
        "<script>alert(1)</script><h1>News</h1><ul><li>one</li><li>two</li></ul>"
        '<a href="https://y.io">https://y.io</a> &amp; more</body></html>'
    )

    assert html_to_text(html) == "News\n\n- one\n- two\nhttps://y.io & more\n"


def test_unsubscribe_and_preferences_urls_carry_signed_contact_and_no_message_in_preview():
    contact = ContactFactory()

    with override_settings(SITE_URL="https://mail.example.com"):
        html = preview_html("{{ unsubscribe_url }} {{ preferences_url }}", contact=contact)

    unsubscribe, preferences = html.split(" ")
    assert unsubscribe.startswith("https://mail.example.com/u/")
    assert preferences.startswith("https://mail.example.com/p/")
    token = unsubscribe_token_read(unsubscribe.rsplit("/", 1)[1])
    assert (token.contact_id, token.message_id) == (contact.pk, None)
    assert preferences_token_read(preferences.rsplit("/", 1)[1]).contact_id == contact.pk
    # one purpose's token is not valid for the other
    assert preferences_token_read(unsubscribe.rsplit("/", 1)[1]) is None


def test_syntax_error_names_part_and_line():
    with pytest.raises(TemplateRenderError) as caught:
        template_compile("line one\n{% if %}", part="subject")

    assert caught.value.part == "subject"
    assert caught.value.line == 2
    assert caught.value.reason.startswith("template error: ")


def test_a_runtime_exception_in_a_filter_is_a_template_error():
    with pytest.raises(TemplateRenderError, match=r"ZeroDivisionError.*\(html, line 1\)"):
        preview_html("{{ 1 / (contact.lead_score - contact.lead_score) }}")


def test_tojson_serializes_records_and_datetimes():
    event = EventFactory(properties={"a": [1, {"b": "c"}]})

    html = preview_html("{{ event.properties | tojson }}", contact=event.contact, event=event)

    assert html == '{"a": [1, {"b": "c"}]}'


def test_records_iterate_like_dicts_when_no_key_shadows_the_method():
    event = EventFactory(properties={"b": 2, "a": 1})

    html = preview_html(
        "{% for k, v in event.properties | dictsort %}{{ k }}={{ v }};{% endfor %}"
        "{% for k, v in event.properties.items() %}{{ k }}{% endfor %}",
        contact=event.contact,
        event=event,
    )

    assert html == "a=1;b=2;ba"


SSTI_PAYLOADS = [
    "{{ ''.__class__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ joiner.__init__.__globals__.os }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ self._TemplateReference__context }}",
    "{{ self.__init__.__globals__ }}",
    "{{ request }}",
    "{{ config }}",
    "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    "{{ contact.__class__ }}",
    "{{ contact._label }}",
    "{{ contact.fields._label }}",
    "{{ contact.__init__.__globals__ }}",
    "{{ event.properties.__class__.__init__.__globals__ }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ (contact.tags).__class__.__base__ }}",
    "{{ 'x' * 1000000000 }}",
    "{{ 10 ** 1000000000 }}",
    "{{ range.__self__ }}",
    "{{ ''|attr('__class__') }}",
    "{{ {}.update.__self__ }}",
    # size and time bombs
    "{{ 'x'.center(1000000000) }}",
    "{{ 'x'.zfill(width=1000000000) }}",
    "{{ 'x' | center(1000000000) }}",
    "{{ 'x' | indent(1000000000, true) }}",
    "{{ '%1000000000s' | format(1) }}",
    "{{ '%*s' | format(1000000000, 1) }}",
    "{{ '%1000000000s' % 1 }}",
    "{{ '{:>1000000000}'.format(1) }}",
    "{{ '{:>{w}}'.format(1, w=1000000000) }}",
    "{{ range(1000000000) | list }}",
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "{{ lipsum(100000) }}",
]


@pytest.mark.parametrize("payload", SSTI_PAYLOADS)
def test_template_injection_payloads_are_refused_as_template_errors(payload):
    event = EventFactory(properties={"k": "v"})

    with pytest.raises(TemplateRenderError) as caught:
        preview_html(payload, contact=event.contact, event=event)

    assert caught.value.reason.startswith("template error: ")


def test_formatting_and_small_loops_still_work():
    html = preview_html(
        "{{ '%.2f' | format(3.14159) }} {{ '{:,}'.format(1234567) }} {{ 'ab' | center(6) }}|"
        "{% for i in range(3) %}{{ i }}{% endfor %} {{ '%05d' % 42 }} {{ 'x' * 3 }}"
    )

    assert html == "3.14 1,234,567   ab  |012 00042 xxx"


def test_mutating_a_context_list_is_refused():
    with pytest.raises(TemplateRenderError, match="unsafe"):
        preview_html("{{ contact.tags.append('x') }}")


def test_compiled_templates_are_cached_per_id_updated_at_and_part():
    rendering.compiled_cache.clear()
    template = EmailTemplateFactory(html="<p>one</p>")
    contact = ContactFactory()

    template_preview(template=template, contact=contact)
    first = rendering.compiled_cache._items[(template.pk, template.updated_at, "html")]
    template_preview(template=template, contact=contact)
    assert rendering.compiled_cache._items[(template.pk, template.updated_at, "html")] is first

    template.html = "<p>two</p>"
    template.save()  # a new updated_at: the edit is compiled, never the stale one

    assert template_preview(template=template, contact=contact).html == "<p>two</p>"


def test_the_cache_is_bounded():
    cache = rendering._CompiledCache(size=2)
    for index in range(3):
        cache.get((index, None, "html"), f"{index}", "html")

    assert list(cache._items) == [(1, None, "html"), (2, None, "html")]


def test_render_with_an_explicit_context():
    template = unsaved("{{ contact.email }}", subject="s")
    context = rendering.render_context(
        contact=ContactFactory(email="a@example.com"), contact_id=1, message_id=2
    )

    assert template_render(template=template, context=context).html == "a@example.com"


def test_occurred_at_is_a_datetime_with_filters():
    event = EventFactory(occurred_at=dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC))

    html = preview_html(
        "{{ event.occurred_at.strftime('%Y-%m-%d') }}", contact=event.contact, event=event
    )

    assert html == "2026-01-02"


def test_deeply_nested_event_properties_render_without_recursion_errors():
    nested: list = []
    for _ in range(200):
        nested = [nested]
    event = EventFactory(properties={"deep": nested, "name": "x"})

    assert preview_html("{{ event.properties.name }}", contact=event.contact, event=event) == "x"
