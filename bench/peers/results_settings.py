"""Django settings of the Celery + django-celery-results peer: results in PostgreSQL."""

import os

import dj_database_url

SECRET_KEY = "bench-only"
INSTALLED_APPS = ["django_celery_results"]
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get(
            "BENCH_RESULTS_DATABASE_URL", "postgres://localhost/bench_results"
        ),
        # As long as Triggerkit keeps its connections (DATABASE_CONN_MAX_AGE_SECONDS).
        conn_max_age=60,
    )
}
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
