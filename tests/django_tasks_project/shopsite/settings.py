"""Settings of a Django project that sends its background tasks to Triggerkit."""

SECRET_KEY = "django-tasks-example-not-secret"
DEBUG = False
USE_TZ = True
INSTALLED_APPS = ["django.contrib.contenttypes", "shop"]
DATABASES = {}

# The key and server come from TRIGGER_SECRET_KEY and TRIGGER_API_URL.
TASKS = {
    "default": {
        "BACKEND": "triggerkit_django.backend.TriggerkitBackend",
        "OPTIONS": {"TAGS": ["shop"]},
    }
}
