"""Fixtures of the flow tests: a real SMTP sink on loopback and Django's SMTP backend on it."""

import pytest

from tests.smtp_sink import SmtpSink


@pytest.fixture
def smtp_sink(tmp_path):
    """An aiosmtpd server on 127.0.0.1 (a free port) keeping every message it accepts, also
    appended to `smtp_sink.log_path` as JSON lines."""
    sink = SmtpSink(log_path=tmp_path / "smtp-sink.jsonl").start()
    try:
        yield sink
    finally:
        sink.stop()


@pytest.fixture
def smtp_settings(settings, smtp_sink):
    """This process sends email through Django's SMTP backend to the sink."""
    for name, value in smtp_sink.django_settings().items():
        setattr(settings, name, value)
    return smtp_sink
