"""The rate limiter's cache is down (by default it lives on the broker's Redis).

Triggers must go on being accepted while Redis is down: the database is the
source of truth, and a limiter that cannot count should let requests through.
"""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from runs.models import Run
from tests.live import free_port


@pytest.fixture
def dead_cache():
    # A port nothing listens on: connections are refused at once.
    location = f"redis://127.0.0.1:{free_port()}/0"
    caches = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": location,
        }
    }
    with override_settings(CACHES=caches):
        yield


def test_a_trigger_is_accepted_while_the_rate_limit_cache_is_down(project, dead_cache):
    client = Client(raise_request_exception=False)

    response = client.post(
        "/api/v1/tasks/echo/trigger",
        data='{"payload": {"n": 1}}',
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {project.prod}",
    )

    assert response.status_code == 200, response.content[:200]
    assert Run.objects.filter(pk=response.json()["id"]).exists()
