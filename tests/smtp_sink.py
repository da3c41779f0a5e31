"""A real SMTP server on loopback that keeps what it receives (aiosmtpd).

Tests point Django's SMTP backend (or a worker process's environment) at it and then look at
what actually crossed the wire: each message parsed, with its envelope and the moment it was
accepted. With `log_path` every accepted message is also appended to a file as one JSON line,
so another process (a bench, a test reading after a kill) can count and parse them.

`delay_seconds` makes every DATA answer wait, so a batch of sends takes long enough for a test
to kill the sender in the middle of it.

    python -m tests.smtp_sink --log /tmp/sink.jsonl     # prints "port <N>" and serves until killed
"""

import argparse
import asyncio
import email
import email.policy
import json
import socket
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class ReceivedMessage:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    received_at: float  # time.time() when the DATA was accepted

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.raw, policy=email.policy.default)

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"] or "")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _Handler:
    def __init__(self, sink: "SmtpSink"):
        self.sink = sink

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.sink.delay_seconds:
            await asyncio.sleep(self.sink.delay_seconds)
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode()
        self.sink.record(
            ReceivedMessage(
                mail_from=envelope.mail_from,
                rcpt_tos=tuple(envelope.rcpt_tos),
                raw=raw,
                received_at=time.time(),
            )
        )
        return "250 Message accepted for delivery"


class SmtpSink:
    """Start with `start()`, stop with `stop()`; `messages` is what was accepted, in order."""

    def __init__(self, *, log_path: Path | None = None, delay_seconds: float = 0.0):
        self.host = "127.0.0.1"
        self.port = free_port()
        self.log_path = log_path
        self.delay_seconds = delay_seconds
        self._messages: list[ReceivedMessage] = []
        self._lock = threading.Lock()
        self._controller = Controller(
            _Handler(self), hostname=self.host, port=self.port, data_size_limit=0
        )

    def start(self) -> "SmtpSink":
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def record(self, received: ReceivedMessage) -> None:
        with self._lock:
            self._messages.append(received)
            if self.log_path is not None:
                line = {
                    "mail_from": received.mail_from,
                    "rcpt_tos": list(received.rcpt_tos),
                    "received_at": received.received_at,
                    "raw": received.raw.decode("utf-8", errors="replace"),
                }
                with self.log_path.open("a") as log:
                    log.write(json.dumps(line) + "\n")

    @property
    def messages(self) -> list[ReceivedMessage]:
        with self._lock:
            return list(self._messages)

    def count(self) -> int:
        with self._lock:
            return len(self._messages)

    def wait_for(self, count: int, *, timeout: float) -> list[ReceivedMessage]:
        """The messages once at least `count` arrived, or those there are at the deadline."""
        deadline = time.monotonic() + timeout
        while self.count() < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.messages

    def django_settings(self) -> dict[str, object]:
        """Settings (or, as strings, environment variables) sending through this sink."""
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": self.host,
            "EMAIL_PORT": self.port,
            "EMAIL_USE_TLS": False,
            "EMAIL_HOST_USER": "",
            "EMAIL_HOST_PASSWORD": "",
        }

    def environment(self) -> dict[str, str]:
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": self.host,
            "EMAIL_PORT": str(self.port),
            "EMAIL_USE_TLS": "false",
            "EMAIL_HOST_USER": "",
            "EMAIL_HOST_PASSWORD": "",
        }


def messages_read(log_path: Path) -> list[ReceivedMessage]:
    """The messages a sink (maybe in another process) appended to `log_path`."""
    if not log_path.exists():
        return []
    received = []
    for line in log_path.read_text().splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        received.append(
            ReceivedMessage(
                mail_from=item["mail_from"],
                rcpt_tos=tuple(item["rcpt_tos"]),
                raw=item["raw"].encode(),
                received_at=item["received_at"],
            )
        )
    return received


def main() -> None:
    parser = argparse.ArgumentParser(description="An SMTP sink on 127.0.0.1")
    parser.add_argument("--log", type=Path, required=True, help="JSON lines, one per message")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each 250")
    args = parser.parse_args()
    sink = SmtpSink(log_path=args.log, delay_seconds=args.delay).start()
    print(f"port {sink.port}", flush=True)
    try:
        threading.Event().wait()
    finally:
        sink.stop()


if __name__ == "__main__":
    main()
