"""Settings for the test suite: the machine's PostgreSQL and Redis unless told otherwise.

Set TEST_DATABASE_URL / TEST_BROKER_URL to point the suite elsewhere.
"""

import os

os.environ["DATABASE_URL"] = os.environ.get(
    "TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/triggerkit"
)
os.environ["CELERY_BROKER_URL"] = os.environ.get(
    "TEST_BROKER_URL", "redis://127.0.0.1:6379/15"
)
os.environ.setdefault("TRIGGERKIT_TASK_MODULES", "examples.tasks,tests.tasks")
# Test sessions running side by side must not share a database or broker keys.
_session = os.environ.setdefault("TRIGGERKIT_TEST_SESSION", str(os.getpid()))
os.environ.setdefault("TEST_DATABASE_NAME", f"test_triggerkit_{_session}")
os.environ.setdefault("CELERY_BROKER_KEY_PREFIX", f"test{_session}:")

from config.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
