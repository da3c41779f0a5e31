"""segflow.settings with every periodic task due each second, so a test sees beat fire
without waiting for the real intervals. Nothing else differs."""

from segflow.settings import *  # noqa: F403
from segflow.settings import CELERY_BEAT_SCHEDULE as _SCHEDULE

CELERY_BEAT_SCHEDULE = {name: {**entry, "schedule": 1.0} for name, entry in _SCHEDULE.items()}
