"""Settings of the ingestion bench's own gunicorn: the production settings, plus one URL for
the bare view the single-event POST is compared with (bench.ingest_urls)."""

from segflow.settings import *  # noqa: F403

ROOT_URLCONF = "bench.ingest_urls"
