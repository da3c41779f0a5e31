"""Webhook steps: check the target URL, render the JSON body, POST it.

Server-side request forgery is the risk: a marketer-written URL must not reach the machine's
own network. So the host is resolved right before the call, every address it resolves to must
be public (unless the host is listed in settings.FLOW_WEBHOOK_ALLOWED_HOSTS), and the
connection goes to the address that was checked (the URL is rewritten to that IP, with the
original name kept in the Host header and TLS SNI / certificate check), so a DNS answer that
changes between the check and the connect (DNS rebinding) cannot redirect it. Redirects are
not followed: a 3xx is a failure, so it cannot lead to a private address either.
"""

import datetime as dt
import functools
import ipaddress
import json
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from jinja2 import Template

from automation import rendering

USER_AGENT = "Segflow-Webhook/1"
EXCERPT_CHARS = 500
_EXCERPT_BYTES = 4 * EXCERPT_CHARS  # enough for 500 characters of UTF-8; the rest is not read


@dataclass(frozen=True)
class WebhookResult:
    ok: bool  # a 2xx answer
    status_code: int | None  # None when no answer came (refused URL, timeout, connection error)
    excerpt: str  # the first 500 characters of the response body
    error: str  # empty when ok
    retryable: bool  # timeouts, connection errors, 429 and 5xx; never 4xx or a refused URL


class WebhookBodyError(ValueError):
    """The step's body template failed to render or did not render JSON (not retryable)."""


@dataclass(frozen=True)
class _Target:
    host: str  # as written in the URL, lower-cased, without brackets
    port: int
    address: str  # the checked IP the connection is pinned to


class _Refused(Exception):
    def __init__(self, message: str, *, retryable: bool = False):
        super().__init__(message)
        self.retryable = retryable


def webhook_url_problem(url: str, *, resolve: bool) -> str | None:
    """Why this URL may not be called, or None. Without `resolve` only its form is checked
    (flow validation); with it, the host is resolved and private addresses are refused."""
    try:
        target_host, port = _url_parts(url)
        if resolve:
            _target_resolve(target_host, port)
    except _Refused as refused:
        return str(refused)
    return None


def webhook_call(*, url: str, body: str, timeout: float) -> WebhookResult:
    """POST `body` (JSON) to `url`, pinned to the address checked just before."""
    try:
        target = _target_resolve(*_url_parts(url))
    except _Refused as refused:
        return _failure(str(refused), retryable=refused.retryable)
    pinned = httpx.URL(url).copy_with(host=target.address)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Host": _host_header(url),
    }
    extensions = {} if _is_ip(target.host) else {"sni_hostname": target.host}
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
            request = client.build_request(
                "POST", pinned, content=body.encode(), headers=headers, extensions=extensions
            )
            response = client.send(request, stream=True)
            try:
                excerpt = _excerpt_read(response)
            finally:
                response.close()
    except httpx.TimeoutException:
        return _failure(f"timed out after {timeout:g} s", retryable=True)
    except httpx.TransportError as error:
        return _failure(f"connection failed: {error}", retryable=True)
    return _result(response, excerpt)


def webhook_body_render(*, step: dict, context: dict) -> str:
    """The JSON body of a webhook step: its "body" template rendered in the email sandbox
    (automation.rendering, same context), or the default body. Raises WebhookBodyError when
    the template fails or does not render JSON (a failure of this step, not retried)."""
    source = step.get("body")
    if not source:
        return json.dumps(_default_body(context), default=_json_default)
    try:
        rendered = rendering.render_compiled(_compiled(source), part="body", context=context)
    except rendering.TemplateRenderError as error:
        raise WebhookBodyError(str(error)) from None
    try:
        json.loads(rendered)
    except ValueError as error:
        raise WebhookBodyError(f"body is not JSON: {error}") from None
    return rendered


@functools.lru_cache(maxsize=256)
def _compiled(source: str) -> Template:
    return rendering.template_compile(source, part="body")


def _json_default(value: object) -> object:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)


def _default_body(context: dict) -> dict:
    """Built from the records of automation.rendering.render_context (missing values: null)."""
    contact = context.get("contact") or {}
    flow, event = context.get("flow") or {}, context.get("event")
    return {
        "contact": {
            key: contact.get(key)
            for key in ("id", "email", "first_name", "last_name", "lead_score", "fields", "tags")
        },
        "flow": {"id": flow.get("id"), "name": flow.get("name")},
        "event": None
        if event is None
        else {key: event.get(key) for key in ("name", "properties", "occurred_at")},
    }


def _url_parts(url: str) -> tuple[str, int]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _Refused("is not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise _Refused("must be an http:// or https:// URL")
    if not parts.hostname:
        raise _Refused("has no host")
    if parts.username is not None or parts.password is not None:
        raise _Refused("may not carry a user name or password")
    return parts.hostname.lower(), port or (443 if parts.scheme == "https" else 80)


def _target_resolve(host: str, port: int) -> _Target:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise _Refused(f"host {host} does not resolve ({error})", retryable=True) from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise _Refused(f"host {host} does not resolve", retryable=True)
    if host not in settings.FLOW_WEBHOOK_ALLOWED_HOSTS:
        for address in addresses:
            kind = _address_kind(address)
            if kind:
                raise _Refused(
                    f"host {host} resolves to a {kind} address ({address}); "
                    "list it in FLOW_WEBHOOK_ALLOWED_HOSTS to allow it"
                )
    return _Target(host=host, port=port, address=addresses[0])


def _address_kind(address: str) -> str | None:
    """What makes this address internal, or None for a public one."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone id is not part of it
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    for kind in ("loopback", "link-local", "multicast", "unspecified", "reserved", "private"):
        if getattr(ip, "is_" + kind.replace("-", "_")):
            return kind
    if not ip.is_global:  # shared address space (100.64/10) and the like
        return "non-public"
    return None


def _host_header(url: str) -> str:
    """Host as the client wrote it (name and explicit port), since the URL now holds the IP."""
    return urlsplit(url).netloc.rsplit("@", 1)[-1]


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _excerpt_read(response: httpx.Response) -> str:
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= _EXCERPT_BYTES:
            break
    encoding = response.encoding or "utf-8"
    return b"".join(chunks).decode(encoding, errors="replace")[:EXCERPT_CHARS]


def _result(response: httpx.Response, excerpt: str) -> WebhookResult:
    status = response.status_code
    if 200 <= status < 300:
        return WebhookResult(
            ok=True, status_code=status, excerpt=excerpt, error="", retryable=False
        )
    if 300 <= status < 400:
        location = response.headers.get("location", "")
        error = f"HTTP {status}: redirect to {location or '?'} not followed"
    else:
        error = f"HTTP {status}"
    return WebhookResult(
        ok=False,
        status_code=status,
        excerpt=excerpt,
        error=error,
        retryable=status == 429 or status >= 500,
    )


def _failure(error: str, *, retryable: bool) -> WebhookResult:
    return WebhookResult(ok=False, status_code=None, excerpt="", error=error, retryable=retryable)
