"""Segflow settings, read from environment variables (see README "Configuration").

Without any variables set, Segflow runs on the embedded default: SQLite in WAL mode and a
Celery transport on the filesystem, so `make run` needs no services.
"""

import os
import sys
from pathlib import Path

import dj_database_url
import xstatic.pkg.bootstrap

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("SEGFLOW_VAR_DIR", BASE_DIR / "var"))
# Runtime files: the SQLite database, the filesystem broker and beat's schedule (on PostgreSQL
# and Redis too, so the directory must exist and be writable wherever beat runs).
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG and env_bool("SEGFLOW_REQUIRE_SECRET_KEY", False):
        raise RuntimeError("SECRET_KEY must be set in production")
    # Development fallback only; production sets SECRET_KEY (README "Configuration").
    SECRET_KEY = "segflow-insecure-development-key-change-me"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.humanize",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "contacts",
    "segments",
    "automation",
    "billing",
    "scoring",
    "accounts",
    "web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "segflow.urls"
WSGI_APPLICATION = "segflow.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.roles",
            ],
        },
    },
]


# --- Database -------------------------------------------------------------------------------
def process_role(argv: list[str]) -> str:
    """What this process is, from its command line: each kind gets its own connection policy."""
    path, args = Path(argv[0] if argv else ""), argv[1:]
    program = path.parent.name if path.name == "__main__.py" else path.name  # python -m celery
    if program == "gunicorn":
        return "web"
    if program == "celery":
        return "beat" if "beat" in args else "worker"
    if args[:1] == ["runserver"]:
        return "devserver"
    return "command"


PROCESS_ROLE = process_role(sys.argv)
DATABASE_URL = os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'segflow.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets the web process read while the worker writes; IMMEDIATE transactions plus a
        # busy timeout make writers queue instead of failing with "database is locked".
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
else:
    # JIT compiles each segment query anew and the planner overestimates correlated event
    # subqueries, so JIT cost time on every evaluation and saved nothing (docs/benchmarks.md).
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c jit=off"
    # Operators (and the connection-budget test) tell the processes apart in pg_stat_activity.
    DATABASES["default"]["OPTIONS"]["application_name"] = os.environ.get(
        "DATABASE_APPLICATION_NAME", f"segflow-{PROCESS_ROLE}"
    )
    # The dev server starts a thread per request: one persistent connection each exhausted
    # PostgreSQL under load, so it borrows from a bounded pool and requests queue for it.
    # gunicorn's sync workers and Celery's threads are bounded already: one persistent
    # connection each (README "Production" has the budget).
    pool_max_size = int(
        os.environ.get("DATABASE_POOL_MAX_SIZE", 4 if PROCESS_ROLE == "devserver" else 0)
    )
    if pool_max_size > 0:
        DATABASES["default"]["CONN_MAX_AGE"] = 0  # Django returns pooled connections instead.
        DATABASES["default"]["OPTIONS"]["pool"] = {
            "min_size": 1,
            "max_size": pool_max_size,
            "timeout": float(os.environ.get("DATABASE_POOL_TIMEOUT", 30)),
        }
    else:
        DATABASES["default"]["CONN_MAX_AGE"] = int(os.environ.get("DATABASE_CONN_MAX_AGE", 60))
    # A worker keeps its connection across tasks (segflow.celery): a PostgreSQL restart must
    # then cost the next task one "SELECT 1", not an error.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = PROCESS_ROLE == "worker"
    DATABASES["default"].setdefault("TEST", {})
    if os.environ.get("TEST_DATABASE_NAME"):
        DATABASES["default"]["TEST"]["NAME"] = os.environ["TEST_DATABASE_NAME"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# The web app's CSS and Bootstrap 5, served offline from the xstatic-bootstrap package.
STATICFILES_DIRS = [BASE_DIR / "static", ("bootstrap", xstatic.pkg.bootstrap.BASE_DIR)]
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# Batch ingestion posts up to 1,000 events in one body.
DATA_UPLOAD_MAX_MEMORY_SIZE = 20 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 20 * 1024 * 1024

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "segflow.api.auth.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "segflow.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "segflow.api.schema.SegflowAutoSchema",
    "EXCEPTION_HANDLER": "segflow.api.errors.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["segflow.api.renderers.SafeJSONRenderer"],
    # The API speaks JSON; an upload endpoint declares MultiPartParser on its own view.
    "DEFAULT_PARSER_CLASSES": ["segflow.api.parsers.StorableJSONParser"],
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Segflow API",
    "DESCRIPTION": "Contacts, custom fields, events, segments and flows. "
    "Authenticate with `Authorization: Bearer <api key>`.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # The docs page is served from our own static files: self-hosted installs may have no CDN.
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # Group operations by resource (contacts, events, ...) rather than under one "v1".
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]+",
}

# --- Celery ---------------------------------------------------------------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or os.environ.get("REDIS_URL") or ""
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
if not CELERY_BROKER_URL or CELERY_BROKER_URL.startswith("filesystem://"):
    # Embedded default: kombu's filesystem transport needs no broker server. Its folders are
    # always under VAR_DIR (kombu's defaults are relative to the working directory).
    broker_dir = VAR_DIR / "broker"
    (broker_dir / "queue").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://localhost//"
    CELERY_BROKER_TRANSPORT = "segflow.filesystem_broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(broker_dir / "queue"),
        "data_folder_out": str(broker_dir / "queue"),
        "store_processed": False,
        # Seconds between looks at an empty queue folder: the task latency of `make run`.
        "polling_interval": 0.2,
        "control_folder": str(broker_dir / "control"),
    }
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # A publish is a wake-up; the work it announces is durable in PostgreSQL. With the broker
    # down it fails at once (one connect attempt, 1 s at most to an unreachable host), is
    # logged and skipped (segflow.queue), so requests keep answering; beat's sweeps catch up.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"max_retries": 0, "socket_connect_timeout": 1}
    CELERY_BROKER_CONNECTION_TIMEOUT = 1
# The queue tasks are published to (and a worker reads unless given -Q).
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_TASK_DEFAULT_QUEUE", "celery")
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup closes the database connections around every task unless this many
# tasks have run; segflow.celery applies Django's CONN_MAX_AGE instead, so the fixup never
# has to.
CELERY_DB_REUSE_MAX = 2**62
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Every periodic task is declared here, in one place.
CELERY_BEAT_SCHEDULE: dict = {
    "reset-stuck-imports": {
        "task": "contacts.tasks.reset_stuck_imports",
        "schedule": 300.0,
    },
    "segments-evaluate-due": {
        "task": "segments.tasks.evaluate_due_segments",
        "schedule": 60.0,
    },
    # Safety net: drains contact changes whose queued task was lost.
    "segments-sweep-contact-changes": {
        "task": "segments.tasks.sweep_contact_changes",
        "schedule": 60.0,
    },
    # Safety net: wakes the transitions feed's consumers whose wake-up was lost.
    "segments-wake-transition-consumers": {
        "task": "segments.tasks.wake_transition_consumers",
        "schedule": 60.0,
    },
    # The flows' durable scheduler: due enrollments are rows (next_run_at); this tick and the
    # on-commit wake-ups make a worker claim them.
    "automation-run-due-enrollments": {
        "task": "automation.tasks.run_due_enrollments",
        "schedule": 5.0,
    },
    # Safety net: stored events that start or resume journeys whose wake-up was lost.
    "automation-sweep-flow-events": {
        "task": "automation.tasks.process_flow_events",
        "schedule": 30.0,
    },
    # Leased steps (a send, a webhook call) whose worker died are picked up again.
    "automation-reset-stuck-steps": {
        "task": "automation.tasks.reset_stuck_steps",
        "schedule": 60.0,
    },
    # Billing webhooks: deliveries whose queued processing was lost, and those waiting for a
    # customer Segflow has learned since.
    "billing-sweep-deliveries": {
        "task": "billing.tasks.sweep_deliveries",
        "schedule": 60.0,
    },
    # Lead scoring: queued events whose wake-up was lost, condition rules, decay (per period).
    "scoring-periodic": {
        "task": "scoring.tasks.scoring_periodic",
        "schedule": 300.0,
    },
}

# --- Billing --------------------------------------------------------------------------------
# Provider webhooks (docs/billing.md). An endpoint whose secret is empty answers 503.
STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET", "")
STRIPE_WEBHOOK_TOLERANCE = int(os.environ.get("STRIPE_WEBHOOK_TOLERANCE", 300))
# Optional: look up customers and product names that events do not carry.
STRIPE_API_KEY = os.environ.get("STRIPE_API_KEY", "")
CHARGEBEE_WEBHOOK_USERNAME = os.environ.get("CHARGEBEE_WEBHOOK_USERNAME", "")
CHARGEBEE_WEBHOOK_PASSWORD = os.environ.get("CHARGEBEE_WEBHOOK_PASSWORD", "")
RECURLY_WEBHOOK_SECRET = os.environ.get("RECURLY_WEBHOOK_SECRET", "")
RECURLY_WEBHOOK_TOLERANCE = int(os.environ.get("RECURLY_WEBHOOK_TOLERANCE", 300))
# Recurly's JSON notifications carry ids only: processing reads the objects from its API.
RECURLY_API_KEY = os.environ.get("RECURLY_API_KEY", "")
RECURLY_API_URL = os.environ.get("RECURLY_API_URL", "https://v3.recurly.com").rstrip("/")
BILLING_API_TIMEOUT_SECONDS = float(os.environ.get("BILLING_API_TIMEOUT_SECONDS", 10))

# --- CSV import of contacts -----------------------------------------------------------------
CONTACT_IMPORT_MAX_BYTES = int(os.environ.get("CONTACT_IMPORT_MAX_BYTES", 50 * 1024 * 1024))
CONTACT_IMPORT_CHUNK_SIZE = 500  # rows per transaction (progress is committed per chunk)
# A running import whose worker has not reported for this many seconds is re-enqueued.
CONTACT_IMPORT_STUCK_AFTER = int(os.environ.get("CONTACT_IMPORT_STUCK_AFTER", 600))

# --- Email ----------------------------------------------------------------------------------
# The embedded default writes each message to a file under var/mail/ (nothing leaves the
# machine); production sets EMAIL_BACKEND to SMTP or an anymail backend (README).
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", 25))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", 30))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Segflow <noreply@localhost>")
# django-anymail: ESP API keys for its sending backends, and the checks of the ESP tracking
# webhooks /webhooks/esp/<esp>/tracking/ (docs/esp-webhooks.md). A secret left unset gets a
# random value, so those webhooks refuse every post (400) instead of trusting anyone.
ANYMAIL = {
    **{
        name: os.environ[name]
        for name in (
            "POSTMARK_SERVER_TOKEN",
            "MAILGUN_API_KEY",
            "MAILGUN_SENDER_DOMAIN",
            "MAILGUN_API_URL",
            "BREVO_API_KEY",
        )
        if os.environ.get(name)
    },
    "WEBHOOK_SECRET": os.environ.get("ANYMAIL_WEBHOOK_SECRET") or f"unset:{os.urandom(24).hex()}",
    "MAILGUN_WEBHOOK_SIGNING_KEY": os.environ.get("MAILGUN_WEBHOOK_SIGNING_KEY")
    or os.urandom(24).hex(),
    # Needs boto3 (django-anymail[amazon-ses]); without it, confirm SNS subscriptions by hand.
    "AMAZON_SES_AUTO_CONFIRM_SNS_SUBSCRIPTIONS": env_bool(
        "AMAZON_SES_AUTO_CONFIRM_SNS_SUBSCRIPTIONS", True
    ),
}

# --- Flows ----------------------------------------------------------------------------------
# A send or webhook call in progress holds its enrollment this long; a worker that dies
# mid-step frees it after that (the step is then settled, never run twice: docs/flow-engine.md).
FLOW_STEP_LEASE_SECONDS = int(os.environ.get("FLOW_STEP_LEASE_SECONDS", 300))
# wait_until: a moment already passed by more than this is skipped, not fired late.
FLOW_WAIT_UNTIL_GRACE_SECONDS = int(os.environ.get("FLOW_WAIT_UNTIL_GRACE_SECONDS", 3600))
FLOW_WEBHOOK_TIMEOUT_SECONDS = float(os.environ.get("FLOW_WEBHOOK_TIMEOUT_SECONDS", 10))
FLOW_WEBHOOK_MAX_ATTEMPTS = int(os.environ.get("FLOW_WEBHOOK_MAX_ATTEMPTS", 5))
# Webhook steps refuse private, loopback and link-local addresses unless the host is listed.
FLOW_WEBHOOK_ALLOWED_HOSTS = [
    host.strip().lower()
    for host in os.environ.get("FLOW_WEBHOOK_ALLOWED_HOSTS", "").split(",")
    if host.strip()
]
# Where the "Sales-ready lead alert" recipe posts (automation/recipes.py), set at install time.
SALES_WEBHOOK_URL = os.environ.get("SALES_WEBHOOK_URL", "https://example.com/segflow/sales-webhook")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
