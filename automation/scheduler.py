"""The durable scheduler (being built)."""

import datetime as dt


def scheduler_tick(*, now: dt.datetime) -> int:
    raise NotImplementedError


def steps_reset_stuck(*, now: dt.datetime) -> int:
    raise NotImplementedError
