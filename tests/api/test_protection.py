"""Rate limits, outages and hostile bodies get clear answers and change nothing."""

import subprocess
import sys
import time
from unittest import mock

from django.db import OperationalError

from runs.models import Run
from tests.live import ROOT


def test_every_api_response_carries_rate_limit_headers(api):
    response = api.get("/api/v1/runs")

    assert int(response["x-ratelimit-limit"]) > 0
    assert int(response["x-ratelimit-remaining"]) < int(response["x-ratelimit-limit"])
    assert int(response["x-ratelimit-reset"]) > 1_600_000_000_000


def test_a_key_over_its_limit_gets_429_and_creates_nothing(api, settings):
    settings.TRIGGERKIT_API_RATE_LIMIT_PER_MINUTE = 3
    for _ in range(3):
        assert api.trigger("hello-world", {}).status_code == 200

    response = api.trigger("hello-world", {})

    assert response.status_code == 429
    assert response.json() == {"error": "Rate limit exceeded"}
    assert response["x-ratelimit-limit"] == "3"
    assert response["x-ratelimit-remaining"] == "0"
    assert int(response["x-ratelimit-reset"]) > time.time() * 1000
    assert int(response["Retry-After"]) >= 1
    assert Run.objects.count() == 3


def test_a_database_outage_is_a_503_with_a_retry_hint(api):
    with mock.patch("runs.engine.trigger_run", side_effect=OperationalError("connection refused")):
        response = api.trigger("hello-world", {})

    assert response.status_code == 503
    assert "database" in response.json()["error"]
    assert response["Retry-After"] == "5"
    assert response["x-should-retry"] == "true"


def test_a_fifty_megabyte_body_is_refused_before_parsing(api):
    response = api.post("/api/v1/tasks/hello-world/trigger", raw=b"{" + b" " * (50 * 1024 * 1024) + b"}")

    assert response.status_code == 413
    assert response.json() == {"error": "Request body too large"}
    assert not Run.objects.exists()


def test_deeply_nested_json_is_refused(api):
    nested = "[" * 100_000 + "]" * 100_000
    response = api.post("/api/v1/tasks/hello-world/trigger", raw=f'{{"payload": {nested}}}')

    assert response.status_code == 400
    assert not Run.objects.exists()


def test_production_settings_pass_the_deploy_check():
    env = {
        "PATH": "/usr/bin:/bin",
        "PRODUCTION": "true",
        "SECRET_KEY": "k" * 20 + "Zq8#w!Lr2@x9$Vn5^Tb7&Jm4*Hc6(Fd1)Gs3",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/15",
        "ALLOWED_HOSTS": "triggerkit.example.com",
        "METRICS_TOKEN": "a-long-random-metrics-token",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
