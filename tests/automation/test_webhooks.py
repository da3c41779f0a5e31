"""Webhook steps' I/O against real HTTP servers on loopback (allowed through settings)."""

import datetime as dt
import json
import shutil
import socket
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import certifi
import pytest

from automation.rendering import render_context
from automation.webhooks import (
    USER_AGENT,
    WebhookBodyError,
    webhook_body_render,
    webhook_call,
    webhook_url_problem,
)
from contacts.tags import contact_tags_add
from tests.factories import ContactFactory, EventFactory, FlowFactory


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.received.append(
            {"path": self.path, "headers": dict(self.headers), "body": body}
        )
        behaviour = self.server.behaviour
        if behaviour == "hang":
            time.sleep(2)
        if behaviour == "redirect":
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.end_headers()
            return
        status = {"ok": 200, "error": 500, "not_found": 404, "busy": 429}.get(behaviour, 200)
        payload = ("x" * 2000) if behaviour == "long" else f"answer {status}"
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.end_headers()
        self.wfile.write(payload.encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    servers = []

    def start(behaviour: str = "ok") -> ThreadingHTTPServer:
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        httpd.daemon_threads = True
        httpd.behaviour = behaviour
        httpd.received = []
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        return httpd

    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def loopback_allowed(settings):
    settings.FLOW_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1", "localhost", "rebind.test"]


def _url(httpd, host: str = "127.0.0.1") -> str:
    return f"http://{host}:{httpd.server_address[1]}/hook?x=1"


# --- URL checks ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:8080/hook",
        "http://localhost/hook",
        "http://0.0.0.0/hook",
        "http://224.0.0.1/hook",
        "http://[::ffff:127.0.0.1]/hook",
    ],
)
def test_internal_addresses_are_refused_when_resolved(url, settings):
    settings.FLOW_WEBHOOK_ALLOWED_HOSTS = []

    problem = webhook_url_problem(url, resolve=True)

    assert problem is not None
    assert "FLOW_WEBHOOK_ALLOWED_HOSTS" in problem


def test_a_public_address_is_accepted(settings):
    settings.FLOW_WEBHOOK_ALLOWED_HOSTS = []

    assert webhook_url_problem("https://93.184.216.34/hook", resolve=True) is None


def test_an_allowed_host_may_resolve_to_loopback(settings):
    settings.FLOW_WEBHOOK_ALLOWED_HOSTS = ["localhost"]

    assert webhook_url_problem("http://localhost:9/hook", resolve=True) is None


def test_without_resolving_only_the_form_is_checked(settings):
    settings.FLOW_WEBHOOK_ALLOWED_HOSTS = []

    assert webhook_url_problem("http://127.0.0.1/hook", resolve=False) is None


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://example.com/x", "http"),
        ("javascript:alert(1)", "http"),
        ("https:///path-only", "no host"),
        ("https://user:secret@example.com/", "password"),
        ("http://[::1/", "not a valid URL"),
        ("http://example.com:99999/", "not a valid URL"),
    ],
)
def test_malformed_urls_are_refused_without_resolving(url, words):
    problem = webhook_url_problem(url, resolve=False)

    assert problem is not None and words in problem


def test_a_host_that_does_not_resolve_is_a_problem():
    assert "does not resolve" in webhook_url_problem("http://nowhere.invalid/", resolve=True)


# --- Calls -----------------------------------------------------------------------------------


def test_a_2xx_answer_is_ok_and_the_json_body_is_posted(server, loopback_allowed):
    httpd = server("ok")

    result = webhook_call(url=_url(httpd), body='{"a": 1}', timeout=5)

    assert (result.ok, result.status_code, result.excerpt, result.error) == (
        True,
        200,
        "answer 200",
        "",
    )
    [request] = httpd.received
    assert request["path"] == "/hook?x=1"
    assert json.loads(request["body"]) == {"a": 1}
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["headers"]["User-Agent"] == USER_AGENT


def test_a_500_is_a_retryable_failure_with_its_excerpt(server, loopback_allowed):
    result = webhook_call(url=_url(server("error")), body="{}", timeout=5)

    assert (result.ok, result.status_code, result.retryable) == (False, 500, True)
    assert result.excerpt == "answer 500"
    assert result.error == "HTTP 500"


def test_a_429_is_retryable(server, loopback_allowed):
    result = webhook_call(url=_url(server("busy")), body="{}", timeout=5)

    assert (result.ok, result.status_code, result.retryable) == (False, 429, True)


def test_a_4xx_is_not_retryable(server, loopback_allowed):
    result = webhook_call(url=_url(server("not_found")), body="{}", timeout=5)

    assert (result.ok, result.status_code, result.retryable) == (False, 404, False)


def test_the_excerpt_is_the_first_500_characters(server, loopback_allowed):
    result = webhook_call(url=_url(server("long")), body="{}", timeout=5)

    assert result.excerpt == "x" * 500


def test_a_server_that_hangs_past_the_timeout_is_a_retryable_timeout(server, loopback_allowed):
    httpd = server("hang")

    started = time.monotonic()
    result = webhook_call(url=_url(httpd), body="{}", timeout=0.3)

    assert time.monotonic() - started < 1.5
    assert (result.ok, result.status_code, result.retryable) == (False, None, True)
    assert "timed out" in result.error


def test_a_redirect_is_a_failure_and_is_not_followed(server, loopback_allowed):
    httpd = server("redirect")

    result = webhook_call(url=_url(httpd), body="{}", timeout=5)

    assert (result.ok, result.status_code, result.retryable) == (False, 302, False)
    assert "169.254.169.254" in result.error and "not followed" in result.error
    assert len(httpd.received) == 1


def test_a_refused_connection_is_retryable(loopback_allowed):
    with socket.socket() as sock:  # a port nobody listens on: bound, never listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        result = webhook_call(url=f"http://127.0.0.1:{port}/", body="{}", timeout=2)

    assert (result.ok, result.status_code, result.retryable) == (False, None, True)
    assert "connection failed" in result.error


def test_a_private_address_is_refused_at_call_time_without_a_request(server, settings):
    httpd = server("ok")
    settings.FLOW_WEBHOOK_ALLOWED_HOSTS = []

    result = webhook_call(url=_url(httpd), body="{}", timeout=5)

    assert (result.ok, result.status_code, result.retryable) == (False, None, False)
    assert "loopback" in result.error
    assert httpd.received == []


def test_the_connection_is_pinned_to_the_checked_address(server, loopback_allowed, monkeypatch):
    # given a name whose DNS answer changes after the check (rebinding) to an address that
    # would not answer
    httpd = server("ok")
    real_getaddrinfo = socket.getaddrinfo
    answers = iter(["127.0.0.1"])

    def rebinding_getaddrinfo(host, *args, **kwargs):
        if host == "rebind.test":
            return real_getaddrinfo(next(answers, "10.255.255.1"), *args, **kwargs)
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding_getaddrinfo)

    # when
    result = webhook_call(url=_url(httpd, host="rebind.test"), body="{}", timeout=2)

    # then the checked address was called, under the original name
    assert result.ok, result.error
    [request] = httpd.received
    assert request["headers"]["Host"] == f"rebind.test:{httpd.server_address[1]}"


@pytest.fixture
def tls_server(tmp_path, monkeypatch):
    """An HTTPS server on loopback with a self-signed certificate for `name` (made by the
    openssl command), trusted by httpx for this test, and `name` resolving to loopback."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a certificate")
    servers = []

    def start(name: str) -> ThreadingHTTPServer:
        cert, key = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
            + ["-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}"]
            + ["-keyout", str(key), "-out", str(cert)],
            check=True,
            capture_output=True,
        )
        monkeypatch.setattr(certifi, "where", lambda: str(cert))
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
        httpd.daemon_threads, httpd.behaviour, httpd.received = True, "ok", []
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        return httpd

    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if host.endswith(".test"):
            host = "127.0.0.1"
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


def test_https_to_the_pinned_address_verifies_the_certificate_of_the_name(tls_server, settings):
    # the connection goes to 127.0.0.1, yet TLS (SNI and the certificate check) uses the name
    settings.FLOW_WEBHOOK_ALLOWED_HOSTS = ["webhook.test"]
    httpd = tls_server("webhook.test")

    result = webhook_call(
        url=f"https://webhook.test:{httpd.server_address[1]}/hook", body="{}", timeout=5
    )

    assert result.ok, result.error
    assert httpd.received[0]["headers"]["Host"] == f"webhook.test:{httpd.server_address[1]}"


def test_https_refuses_a_certificate_for_another_name(tls_server, settings):
    settings.FLOW_WEBHOOK_ALLOWED_HOSTS = ["webhook.test"]
    httpd = tls_server("other.test")

    result = webhook_call(
        url=f"https://webhook.test:{httpd.server_address[1]}/hook", body="{}", timeout=5
    )

    assert (result.ok, result.retryable) == (False, True)
    assert "certificate" in result.error.lower()
    assert httpd.received == []


def test_a_name_resolving_to_loopback_is_refused_at_call_time(server, settings):
    httpd = server("ok")
    settings.FLOW_WEBHOOK_ALLOWED_HOSTS = []

    result = webhook_call(url=_url(httpd, host="localhost"), body="{}", timeout=5)

    assert not result.ok and "loopback" in result.error
    assert httpd.received == []


# --- Bodies ---------------------------------------------------------------------------------


@pytest.fixture
def context(db):
    contact = ContactFactory(
        email="ann@example.com",
        first_name="Ann",
        last_name="Lee",
        lead_score=85,
        fields={"plan": "pro"},
    )
    contact_tags_add(contact=contact, names=["vip"])
    flow = FlowFactory(name="Sales-ready")
    return {
        "contact": contact,
        "flow": flow,
        "context": render_context(contact=contact, flow=flow, contact_id=contact.pk, message_id=1),
    }


def test_the_default_body_describes_the_contact_and_the_flow(context):
    step = {"type": "webhook", "url": "https://example.com/hook"}

    body = json.loads(webhook_body_render(step=step, context=context["context"]))

    assert body == {
        "contact": {
            "id": context["contact"].pk,
            "email": "ann@example.com",
            "first_name": "Ann",
            "last_name": "Lee",
            "lead_score": 85,
            "fields": {"plan": "pro"},
            "tags": ["vip"],
        },
        "flow": {"id": context["flow"].pk, "name": "Sales-ready"},
        "event": None,
    }


def test_the_default_body_carries_the_trigger_event(context):
    contact = context["contact"]
    occurred_at = dt.datetime(2026, 11, 28, 12, 30, tzinfo=dt.UTC)
    event = EventFactory(
        contact=contact, name="cart.updated", properties={"total": 5}, occurred_at=occurred_at
    )
    full = render_context(contact=contact, event=event, contact_id=contact.pk, message_id=None)

    body = json.loads(webhook_body_render(step={}, context=full))

    assert body["event"] == {
        "name": "cart.updated",
        "properties": {"total": 5},
        "occurred_at": "2026-11-28T12:30:00+00:00",
    }
    assert body["flow"] == {"id": None, "name": None}


def test_a_body_template_is_rendered_with_the_context(context):
    step = {"body": '{"email": {{ contact.email | tojson }}, "score": {{ contact.lead_score }}}'}

    assert json.loads(webhook_body_render(step=step, context=context["context"])) == {
        "email": "ann@example.com",
        "score": 85,
    }


def test_a_record_serializes_whole_with_tojson(context):
    step = {"body": '{"fields": {{ contact.fields | tojson }}}'}

    assert json.loads(webhook_body_render(step=step, context=context["context"])) == {
        "fields": {"plan": "pro"}
    }


def test_a_body_that_is_not_json_fails(context):
    step = {"body": "hello {{ contact.first_name }}"}

    with pytest.raises(WebhookBodyError, match="body is not JSON"):
        webhook_body_render(step=step, context=context["context"])


def test_an_undefined_variable_fails_the_body_naming_it(context):
    step = {"body": '{"a": "{{ contact.nope }}"}'}

    with pytest.raises(
        WebhookBodyError, match=r"'contact' has no attribute 'nope' \(body, line 1\)"
    ):
        webhook_body_render(step=step, context=context["context"])


def test_a_body_that_does_not_parse_fails(context):
    with pytest.raises(WebhookBodyError, match="template error"):
        webhook_body_render(step={"body": '{"a": {{ }'}, context=context["context"])


def test_the_body_runs_in_the_sandbox(context):
    step = {"body": '{"a": "{{ contact.email.__class__.__mro__ }}"}'}

    with pytest.raises(WebhookBodyError, match="template error"):
        webhook_body_render(step=step, context=context["context"])
