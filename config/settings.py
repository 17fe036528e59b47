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
SECRET_KEY = env_str("SECRET_KEY") or (
    "triggerkit-insecure-development-key" if DEBUG or not env_bool("PRODUCTION", False)
    else ""
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

# Celery: the broker only carries "look at run X now"; the database holds state.
CELERY_TASK_ACKS_LATE = True
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

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

# Production hardening; `PRODUCTION=true manage.py check --deploy` is clean.
if env_bool("PRODUCTION", False):
    DEBUG = False
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    X_FRAME_OPTIONS = "DENY"
