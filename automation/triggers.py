"""Flow triggers (being built)."""

import datetime as dt


def flow_events_process(*, now: dt.datetime) -> int:
    raise NotImplementedError


def segment_transitions_consume(*, now: dt.datetime) -> int:
    raise NotImplementedError
