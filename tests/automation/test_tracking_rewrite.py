"""automation.tracking.html_track: which links are wrapped, how, and where the pixel goes."""

import time

import pytest
from django.core import signing

from automation.tokens import (
    CLICK_SALT,
    OPEN_SALT,
    ClickToken,
    click_token,
    click_token_read,
    open_token,
    open_token_read,
)
from automation.tracking import html_track

SITE = "http://127.0.0.1:8000"


@pytest.fixture(autouse=True)
def _site(settings):
    settings.SITE_URL = SITE


def clicked_urls(html: str) -> list[str]:
    """The URLs the click links of `html` redirect to, in order."""
    urls = []
    for part in html.split(f"{SITE}/t/c/")[1:]:
        token = part.split('"', 1)[0]
        link = click_token_read(token)
        assert link is not None and link.message_id == 7
        urls.append(link.url)
    return urls


@pytest.mark.parametrize(
    ("anchor", "url"),
    [
        ('<a href="https://a.io/x">', "https://a.io/x"),
        ("<a href='https://a.io/x'>", "https://a.io/x"),
        ("<a href=https://a.io/x>", "https://a.io/x"),
        ('<A HREF="HTTPS://a.io/X">', "HTTPS://a.io/X"),
        ('<a href=" http://a.io/?a=1&amp;b=2 ">', "http://a.io/?a=1&b=2"),
        ('<a title="1 > 0" href="https://a.io/x">', "https://a.io/x"),
        ('<a\nclass="btn"\nhref="https://a.io/x"\n>', "https://a.io/x"),
    ],
)
def test_http_links_become_click_links_to_the_exact_url(anchor, url):
    html = html_track(f"<p>{anchor}go</a></p>", message_id=7, opens=False)

    assert clicked_urls(html) == [url]
    assert html.endswith(">go</a></p>")


@pytest.mark.parametrize(
    "anchor",
    [
        '<a href="mailto:a@b.io">',
        '<a href="tel:+331">',
        '<a href="#top">',
        '<a href="/relative">',
        '<a href="javascript:alert(1)">',
        '<a href="ftp://files.io/x">',
        '<a data-segflow-notrack href="https://a.io/x">',
        '<a href="https://a.io/x" DATA-SEGFLOW-NOTRACK="1">',
        f'<a href="{SITE}/u/WzEsMl0:sig">',
        f'<a href="{SITE}/p/WzEsMl0:sig">',
        f'<a href="{SITE}/t/c/abc:sig">',
        '<a name="x">',
        '<a href="https://a.io/\nx">',
        '<abbr title="https://a.io/">',
    ],
)
def test_other_links_are_left_exactly_as_they_are(anchor):
    source = f"<p>{anchor}go</a></p>"

    assert html_track(source, message_id=7, opens=False) == source


def test_every_link_of_a_message_is_wrapped_in_one_pass_and_the_rest_is_untouched():
    source = "".join(f'<p>Item {i} <a href="https://a.io/{i}">see</a></p>' for i in range(10))

    html = html_track(source, message_id=7, opens=False)

    assert clicked_urls(html) == [f"https://a.io/{i}" for i in range(10)]
    assert html.replace(f"{SITE}/t/c/", "").count("<p>Item") == 10


def test_the_pixel_goes_before_the_last_body_end_tag_whatever_its_case():
    html = html_track("<html><BODY><p>x</p></BODY ></html>", message_id=7, clicks=False)

    start = html.index("<img")
    assert html[:start] == "<html><BODY><p>x</p>"
    assert html[start:].endswith("/></BODY ></html>")
    src = html[start:].split('src="', 1)[1].split('"', 1)[0]
    assert src.startswith(f"{SITE}/t/o/")
    assert open_token_read(src.removeprefix(f"{SITE}/t/o/")) == 7


def test_without_a_body_the_pixel_goes_at_the_end():
    html = html_track("<p>fragment</p>", message_id=7, clicks=False)

    assert html.startswith("<p>fragment</p><img ")
    assert html.endswith("/>")


def test_nothing_asked_nothing_changed():
    source = '<body><a href="https://a.io/">a</a></body>'

    assert html_track(source, message_id=7, opens=False, clicks=False) == source


def test_a_long_url_survives_its_token():
    url = "https://a.io/?" + "&".join(f"k{i}=v{i}" for i in range(300))

    html = html_track(f'<a href="{url}">x</a>', message_id=7, opens=False)

    assert clicked_urls(html) == [url]


@pytest.mark.parametrize(
    "url",
    ["https://a.io/", 'https://a.io/?q="<é>\\\u2028', "https://a.io/?" + "x" * 400],
)
def test_tokens_are_djangos_signed_objects_and_follow_the_secret_key(settings, url):
    token = click_token(message_id=123, url=url)

    assert token == signing.Signer(salt=CLICK_SALT).sign_object([123, url], compress=len(url) > 200)
    assert open_token(message_id=123) == signing.Signer(salt=OPEN_SALT).sign_object(123)
    old_key = settings.SECRET_KEY

    settings.SECRET_KEY = "another secret key, long enough to be taken for a real one"
    settings.SECRET_KEY_FALLBACKS = []
    assert click_token_read(token) is None  # a new key, the old one forgotten
    assert click_token(message_id=123, url=url) != token
    settings.SECRET_KEY_FALLBACKS = [old_key]  # a rotation keeps links already sent
    assert click_token_read(token) == ClickToken(message_id=123, url=url)


@pytest.mark.parametrize(
    "soup",
    ['<a "' * 20_000, "<a " * 40_000, '<a href="https://a.io/" ' * 5_000, "<a title='" * 30_000],
)
def test_a_tag_never_closed_ends_the_pass_in_linear_time(soup):
    # given: a link before tag soup whose first <a is never closed (the rest is inside it)
    source = f'<a href="https://a.io/ok">ok</a>{soup}'

    started = time.process_time()
    html = html_track(source, message_id=7, opens=False)
    elapsed = time.process_time() - started

    assert clicked_urls(html) == ["https://a.io/ok"]
    assert html.endswith(soup)
    assert elapsed < 0.5  # quadratic backtracking took minutes on these
