"""Triggerkit settings, all read from the environment.

With no environment at all the project runs on the embedded defaults
(config/embedded.py): PostgreSQL and Redis from PyPI wheels under var/.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config import embedded
from config.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
embedded.VAR_DIR.mkdir(exist_ok=True)

DEBUG = env_bool("DEBUG", False)
PRODUCTION = env_bool("PRODUCTION", False)
SECRET_KEY = env_str("SECRET_KEY") or (
    "triggerkit-insecure-development-key" if DEBUG or not PRODUCTION else ""
)
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when PRODUCTION is true")

# API keys are hashed with this key (HMAC); rotating it invalidates every key.
API_KEY_PEPPER = env_str("API_KEY_PEPPER") or SECRET_KEY

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
SITE_URL = env_str("SITE_URL", "http://localhost:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "django.contrib.postgres",
    "apikeys",
    "runs",
    "dashboard",
    "observability",
    "alerts",
]

MIDDLEWARE = [
    # First, so that API latency covers every other middleware too.
    "observability.metrics.ApiLatencyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "apikeys.middleware.RateLimitHeadersMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL") or embedded.database_url(),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE_SECONDS", 60),
        conn_health_checks=True,
    )
}
if not DATABASES["default"]["ENGINE"].endswith("postgresql"):
    raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL")
# The engine's hot statements (runs.sql) are prepared once per connection; all
# other queries bind on the client as Django does by default. Turn off behind a
# pooler that cannot keep prepared statements (PgBouncer before 1.21).
DATABASE_PREPARED_STATEMENTS = env_bool("DATABASE_PREPARED_STATEMENTS", True)
DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = (
    0 if DATABASE_PREPARED_STATEMENTS else None
)
DATABASES["default"].setdefault("TEST", {})["NAME"] = env_str("TEST_DATABASE_NAME") or None

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT") or embedded.VAR_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# Request bodies: the trigger payload limit is enforced by the API itself.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_BYTES", 16 * 1024 * 1024)

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or embedded.broker_url()

# The cache counts API requests per key for rate limiting: Redis when the
# broker is Redis (or CACHE_URL says so), else each process counts on its own.
CACHE_URL = env_str("CACHE_URL") or (
    CELERY_BROKER_URL if CELERY_BROKER_URL.startswith(("redis://", "rediss://", "redis+socket://")) else ""
)
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache",
         "LOCATION": CACHE_URL.replace("redis+socket://", "unix://"),
         "KEY_PREFIX": env_str("CELERY_BROKER_KEY_PREFIX")}
        if CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}
TRIGGERKIT_API_RATE_LIMIT_PER_MINUTE = env_int("TRIGGERKIT_API_RATE_LIMIT_PER_MINUTE", 6000)
# Each process remembers a found API key this long; a key revoked elsewhere
# (another process, the admin) keeps working for at most that time.
TRIGGERKIT_AUTH_CACHE_SECONDS = env_int("TRIGGERKIT_AUTH_CACHE_SECONDS", 5)

# Celery: the broker only carries "look at run X now"; the database holds state.
CELERY_TASK_ACKS_LATE = True
# Celery's Django fixup closes the database connection before and after every
# task unless it may reuse it this many times; runs.tasks closes obsolete or
# broken connections itself (CONN_MAX_AGE, health checks), so Celery need not.
CELERY_DB_REUSE_MAX = 1_000_000
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
if env_str("CELERY_BROKER_KEY_PREFIX"):
    # Lets several deployments (or test sessions) share one Redis.
    CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] = env_str("CELERY_BROKER_KEY_PREFIX")
CELERY_TASK_DEFAULT_QUEUE = "triggerkit"
CELERY_BEAT_SCHEDULER = "runs.beat:TriggerkitScheduler"
CELERY_BEAT_SCHEDULE_FILENAME = str(embedded.VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_MAX_LOOP_INTERVAL = 1
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# Run engine tunables.
TRIGGERKIT_TASK_MODULES = env_list("TRIGGERKIT_TASK_MODULES", ["examples.tasks"])
TRIGGERKIT_DEFAULT_ENV_CONCURRENCY_LIMIT = env_int("TRIGGERKIT_ENV_CONCURRENCY_LIMIT", 100)
TRIGGERKIT_TICK_SECONDS = float(env_str("TRIGGERKIT_TICK_SECONDS", "1.0"))
TRIGGERKIT_LOST_MESSAGE_SECONDS = env_int("TRIGGERKIT_LOST_MESSAGE_SECONDS", 30)
TRIGGERKIT_HEARTBEAT_SECONDS = env_int("TRIGGERKIT_HEARTBEAT_SECONDS", 2)
TRIGGERKIT_LEASE_SECONDS = env_int("TRIGGERKIT_LEASE_SECONDS", 15)
TRIGGERKIT_PAYLOAD_MAX_BYTES = env_int("TRIGGERKIT_PAYLOAD_MAX_BYTES", 10 * 1024 * 1024)
TRIGGERKIT_BATCH_MAX_ITEMS = env_int("TRIGGERKIT_BATCH_MAX_ITEMS", 1000)

# Payloads and outputs above the offload threshold live in the object store
# (docs/storage.md): S3 when TRIGGERKIT_S3_BUCKET is set, else a local folder.
TRIGGERKIT_OFFLOAD_THRESHOLD_BYTES = env_int("TRIGGERKIT_OFFLOAD_THRESHOLD_BYTES", 512 * 1024)
TRIGGERKIT_BATCH_PAYLOAD_MAX_BYTES = env_int(
    "TRIGGERKIT_BATCH_PAYLOAD_MAX_BYTES", 10 * 1024 * 1024
)
TRIGGERKIT_OUTPUT_MAX_BYTES = env_int("TRIGGERKIT_OUTPUT_MAX_BYTES", 100 * 1024 * 1024)
TRIGGERKIT_PRESIGNED_URL_SECONDS = env_int("TRIGGERKIT_PRESIGNED_URL_SECONDS", 3600)
# Uploaded objects no run uses are deleted this long after their URL expired.
TRIGGERKIT_ORPHAN_GRACE_SECONDS = env_int("TRIGGERKIT_ORPHAN_GRACE_SECONDS", 3600)
TRIGGERKIT_OBJECTS_DIR = Path(env_str("TRIGGERKIT_OBJECTS_DIR") or embedded.VAR_DIR / "objects")
TRIGGERKIT_S3_BUCKET = env_str("TRIGGERKIT_S3_BUCKET")
TRIGGERKIT_S3_ENDPOINT_URL = env_str("TRIGGERKIT_S3_ENDPOINT_URL")
TRIGGERKIT_S3_REGION = env_str("TRIGGERKIT_S3_REGION")
# Without these, boto3 reads AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, profiles or roles.
TRIGGERKIT_S3_ACCESS_KEY_ID = env_str("TRIGGERKIT_S3_ACCESS_KEY_ID")
TRIGGERKIT_S3_SECRET_ACCESS_KEY = env_str("TRIGGERKIT_S3_SECRET_ACCESS_KEY")
_S3_NAMED = {
    "TRIGGERKIT_S3_ENDPOINT_URL": TRIGGERKIT_S3_ENDPOINT_URL,
    "TRIGGERKIT_S3_REGION": TRIGGERKIT_S3_REGION,
    "TRIGGERKIT_S3_ACCESS_KEY_ID": TRIGGERKIT_S3_ACCESS_KEY_ID,
}
if not TRIGGERKIT_S3_BUCKET and any(_S3_NAMED.values()):
    raise ImproperlyConfigured(
        f"{', '.join(name for name, value in _S3_NAMED.items() if value)} is set but "
        "TRIGGERKIT_S3_BUCKET is not: name the bucket, or unset the S3 variables "
        "to keep objects in TRIGGERKIT_OBJECTS_DIR"
    )
if bool(TRIGGERKIT_S3_ACCESS_KEY_ID) != bool(TRIGGERKIT_S3_SECRET_ACCESS_KEY):
    raise ImproperlyConfigured(
        "Set both TRIGGERKIT_S3_ACCESS_KEY_ID and TRIGGERKIT_S3_SECRET_ACCESS_KEY, or neither"
    )

# One logging setup for web, worker and beat (docs/logging.md): LOG_FORMAT=json
# prints one JSON object a line with the run's fields bound.
LOG_FORMAT = env_str("LOG_FORMAT", "plain")
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, got {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"run_context": {"()": "observability.logs.ContextFilter"}},
    "formatters": {
        "plain": {"()": "observability.logs.PlainFormatter"},
        "json": {"()": "observability.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["run_context"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

# /metrics (docs/metrics.md): when set, scrapers must send `Authorization: Bearer …`.
# Required in production: without it /metrics answers 403 there, and
# `manage.py check --deploy` fails (observability/checks.py).
METRICS_TOKEN = env_str("METRICS_TOKEN")

# Alerts (docs/alerts.md): at most one per task per interval, by webhook and e-mail.
TRIGGERKIT_ALERT_INTERVAL_SECONDS = env_int("TRIGGERKIT_ALERT_INTERVAL_SECONDS", 3600)
EMAIL_HOST = env_str("EMAIL_HOST")
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
EMAIL_BACKEND = env_str("EMAIL_BACKEND") or (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "triggerkit@localhost")

# Django's background tasks (docs/django-tasks.md): in the worker, @task functions
# of the task modules register as Triggerkit tasks through this backend.
TASKS = {"default": {"BACKEND": "triggerkit_django.backend.TriggerkitBackend"}}

# Production hardening; `PRODUCTION=true manage.py check --deploy` is clean
# once METRICS_TOKEN is set too.
if PRODUCTION:
    DEBUG = False
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    X_FRAME_OPTIONS = "DENY"
