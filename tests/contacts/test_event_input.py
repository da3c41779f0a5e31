import datetime as dt

from contacts.event_input import event_parse

NOW = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)


def test_an_invalid_email_is_rejected_every_time_it_is_sent():
    # event_parse remembers emails it has checked; that memory must keep errors too.
    first = event_parse({"email": "not-an-email", "name": "x"}, now=NOW)
    second = event_parse({"email": "not-an-email", "name": "x"}, now=NOW)

    assert first[0] is None and second[0] is None
    assert first[1]["email"] == second[1]["email"] == ["Enter a valid email address."]


def test_an_email_is_normalised_when_remembered():
    parsed = [event_parse({"email": " Ann@Example.COM ", "name": "x"}, now=NOW) for _ in "ab"]

    assert [p[0].email for p in parsed] == ["ann@example.com", "ann@example.com"]
