# Segflow: `make run` (embedded default) and `make test` (PostgreSQL + Redis). See README.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
RUN_SITE_URL = $(or $(SITE_URL),http://127.0.0.1:$(PORT))
UV_VERSION := 0.13.9
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/segflow
TEST_REDIS_URL ?= redis://127.0.0.1:6379/9

.PHONY: install run test lint format bench bench-segments bench-flows bench-embedded browser clean

$(BIN)/uv:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

install: $(BIN)/uv
	$(BIN)/uv sync --locked --inexact --quiet

# Embedded default (SQLite + filesystem broker) unless DATABASE_URL / CELERY_BROKER_URL are set:
# web on 127.0.0.1:$(PORT) plus a Celery worker and beat (Procfile.dev); Ctrl-C stops all three.
run: install
	$(BIN)/python manage.py migrate --noinput
	SITE_URL=$(RUN_SITE_URL) $(BIN)/python manage.py seed_demo --if-empty
	@# WhiteNoise serves the apps' static files directly in dev; an empty STATIC_ROOT keeps it quiet.
	@mkdir -p staticfiles
	PORT=$(PORT) SITE_URL=$(RUN_SITE_URL) $(BIN)/honcho --procfile Procfile.dev start

# Debian's Chromium drives the browser tests (Playwright cannot download its own here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium for the browser tests..."; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; fi; }

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: install browser lint
	@# Models against migrations only: an in-memory SQLite database always exists (the server's
	@# `segflow` database may not, and Django warns when it cannot read its migration history).
	DATABASE_URL=sqlite:///:memory: CELERY_BROKER_URL=$(TEST_REDIS_URL) \
	  $(BIN)/python manage.py makemigrations --check --dry-run >/dev/null
	DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_REDIS_URL) \
	  DJANGO_ALLOW_ASYNC_UNSAFE=true $(BIN)/pytest $(PYTEST_ARGS)

# Ingestion bench (docs/benchmarks.md). Celery publishes to Redis as in production, on a scratch
# database (BENCH_BROKER_URL; set it empty for a throw-away filesystem queue).
bench: install
	@mkdir -p staticfiles  # as for make run: the bench's gunicorn serves no static files
	DATABASE_URL=$${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/segflow_bench} \
	  BENCH_BROKER_URL=$${BENCH_BROKER_URL-redis://127.0.0.1:6379/15} \
	  $(BIN)/python bench/ingest.py $(BENCH_ARGS)

# Segment evaluation bench (docs/benchmarks.md): generates 1M contacts / 20M events once into
# its own database (BENCH_SEGMENTS_DATABASE_URL) and reuses them; BENCH_ARGS=--quick for a smoke run.
bench-segments: install
	$(BIN)/python bench/segments.py $(BENCH_ARGS)

# Flows bench (docs/benchmarks.md): send pipeline, scheduler, event/segment -> email latency
# with real workers and an SMTP sink, in its own database; BENCH_ARGS=--quick for a smoke run.
bench-flows: install
	$(BIN)/python bench/flows.py $(BENCH_ARGS)

# The embedded default (SQLite, no broker server) under 200 segments: API write latency while
# the worker drains a burst (docs/benchmarks.md).
bench-embedded: install
	$(BIN)/python bench/embedded.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var staticfiles
