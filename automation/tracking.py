"""Open and click tracking: the rewriting of a message's HTML, and the events a pixel load or
a click records (the public views are automation.tracking_views).

Invariants:
- One linear pass over the HTML: each `<a ...>` tag is found and only its href replaced;
  nothing else of the document changes (then the pixel goes before `</body>`).
- Only absolute http(s) links are wrapped. Never wrapped: links into our own public pages
  (unsubscribe /u/, preferences /p/, confirmation /c/, tracking /t/: the message's
  unsubscribe and preference links work without us), mailto:, tel:, #anchors, relative
  links, and any link with a `data-segflow-notrack` attribute.
- A click token signs the message id and the exact URL of the link (as the browser reads it,
  entities decoded): the redirect goes there and nowhere else.
- email.opened is recorded at most once per message per clock hour (its idempotency key),
  since mail proxies fetch images on their own; clicks are each recorded.
- Test sends are not tracked; a message whose contact is gone records nothing.
"""

import html as html_lib
import logging
import re

from django.conf import settings

from automation import tokens
from automation.message_events import EVENT_SOURCE, message_event_inputs
from automation.models import Message
from contacts.ingest import events_ingest

logger = logging.getLogger(__name__)

NOTRACK_ATTRIBUTE = "data-segflow-notrack"
# An <a> start tag: its start, then the rest up to its ">" (a quoted value may hold ">");
# possessive, so a failed match never backtracks.
_A_START = re.compile(r"<a(?=[\s/>])", re.IGNORECASE)
_TAG_REST = re.compile(r"""(?:[^>"']++|"[^"]*+"|'[^']*+')*+>""")
_ATTRIBUTE = re.compile(r"""([^\s"'=<>/]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s"'=<>`]+))?""")
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)
_PUBLIC_PATHS = ("/u/", "/p/", "/c/", "/t/")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # not a URL a redirect header can carry


def _own_prefixes() -> tuple[str, ...]:
    return tuple(f"{settings.SITE_URL}{path}" for path in _PUBLIC_PATHS)


def link_trackable(url: str, *, own_prefixes: tuple[str, ...]) -> bool:
    """An absolute http(s) URL that is not one of our public pages."""
    lowered = url[:8].lower()
    if not (lowered.startswith("https://") or lowered.startswith("http://")):
        return False
    return not url.startswith(own_prefixes) and _CONTROL.search(url) is None


def pixel_html(*, message_id: int) -> str:
    src = tokens.open_url(message_id=message_id)
    return (
        f'<img src="{src}" width="1" height="1" alt="" '
        'style="display:block;border:0;width:1px;height:1px;overflow:hidden" />'
    )


def html_track(html: str, *, message_id: int, opens: bool = True, clicks: bool = True) -> str:
    """`html` with its trackable links turned into click redirects (`clicks`) and an open
    pixel before `</body>`, or at the end when there is none (`opens`)."""
    if clicks:
        html = _links_tracked(html, message_id=message_id, own_prefixes=_own_prefixes())
    if opens:
        pixel = pixel_html(message_id=message_id)
        end = html.rfind("</body>")
        if end < 0:
            ends = list(_BODY_END.finditer(html))
            end = ends[-1].start() if ends else len(html)
        html = f"{html[:end]}{pixel}{html[end:]}"
    return html


def _links_tracked(html: str, *, message_id: int, own_prefixes: tuple[str, ...]) -> str:
    """Each <a> tag rewritten, in one left-to-right pass. A tag never closed ends the pass:
    the rest of the document is inside it (as a browser reads it), and stopping keeps the
    pass linear whatever the HTML."""
    out = []
    position = 0
    while (start := _A_START.search(html, position)) is not None:
        end = _TAG_REST.match(html, start.end())
        if end is None:
            break
        out.append(html[position : start.start()])
        tag = html[start.start() : end.end()]
        out.append(_anchor_tracked(tag, message_id=message_id, own_prefixes=own_prefixes))
        position = end.end()
    if not out:
        return html
    out.append(html[position:])
    return "".join(out)


def _anchor_tracked(tag: str, *, message_id: int, own_prefixes: tuple[str, ...]) -> str:
    """The <a> tag with its href as a click link, or unchanged."""
    href = None
    for attribute in _ATTRIBUTE.finditer(tag, 2, len(tag) - 1):
        name = attribute.group(1).lower()
        if name == NOTRACK_ATTRIBUTE:
            return tag
        if name == "href" and href is None:
            href = attribute
    if href is None or href.group(2) is None:
        return tag
    raw = href.group(2)
    if raw[:1] in "\"'":
        raw = raw[1:-1]
    url = html_lib.unescape(raw).strip()
    if not link_trackable(url, own_prefixes=own_prefixes):
        return tag
    wrapped = tokens.click_url(message_id=message_id, url=url)
    start, end = href.span(2)
    return f'{tag[:start]}"{wrapped}"{tag[end:]}'


# --- Events -------------------------------------------------------------------------------


def open_idempotency_key(*, message_id: int, now) -> str:
    return f"email.opened:{message_id}:{int(now.timestamp()) // 3600}"


def message_open_record(*, message_id: int, now) -> bool:
    """email.opened for the message's contact, once per message per clock hour; False when
    nothing was recorded (a test send, a message or contact gone, a repeat this hour)."""
    return _event_record(
        name="email.opened",
        message_id=message_id,
        extra={},
        idempotency_key=open_idempotency_key(message_id=message_id, now=now),
        now=now,
    )


def message_click_record(*, message_id: int, url: str, now) -> bool:
    """email.clicked (with the URL) for the message's contact; False when nothing was
    recorded (a test send, a message or contact gone)."""
    return _event_record(
        name="email.clicked",
        message_id=message_id,
        extra={"url": url},
        idempotency_key=None,
        now=now,
    )


def _event_record(
    *, name: str, message_id: int, extra: dict, idempotency_key: str | None, now
) -> bool:
    message = (
        Message.objects.filter(pk=message_id)
        .only("pk", "contact_id", "template_id", "flow_id", "step_id", "is_test")
        .first()
    )
    if message is None:
        return False
    events = message_event_inputs(
        [message], name=name, now=now, idempotency_key=lambda _: idempotency_key, extra=extra
    )
    if not events:
        return False
    stored = events_ingest(events=events, source=EVENT_SOURCE, now=now)
    return not stored[0].duplicate
