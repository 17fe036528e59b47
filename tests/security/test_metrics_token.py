"""/metrics: open in development, closed in production until METRICS_TOKEN is set."""

import subprocess
import sys

import pytest

from observability import metrics
from observability.checks import check_metrics_token
from tests.live import ROOT

PRODUCTION_ENV = {
    "PATH": "/usr/bin:/bin",
    "PRODUCTION": "true",
    "SECRET_KEY": "k" * 20 + "Zq8#w!Lr2@x9$Vn5^Tb7&Jm4*Hc6(Fd1)Gs3",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/15",
    "ALLOWED_HOSTS": "triggerkit.example.com",
}


@pytest.fixture(autouse=True)
def no_ping(monkeypatch):
    monkeypatch.setattr(metrics, "WORKERS", metrics.WorkersCollector(ping=lambda: 1))


@pytest.mark.django_db
def test_production_without_a_token_keeps_metrics_closed(client, settings):
    settings.PRODUCTION = True
    settings.METRICS_TOKEN = ""

    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer ")

    assert response.status_code == 403
    assert b"METRICS_TOKEN" in response.content
    assert b"triggerkit_" not in response.content


@pytest.mark.django_db
def test_production_with_a_token_serves_its_bearer_only(client, settings):
    settings.PRODUCTION = True
    settings.METRICS_TOKEN = "s3cret-metrics"

    assert client.get("/metrics").status_code == 401
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-metrics")
    assert response.status_code == 200
    assert b"triggerkit_queue_depth" in response.content


@pytest.mark.django_db
def test_development_without_a_token_keeps_metrics_open(client, settings):
    settings.PRODUCTION = False
    settings.METRICS_TOKEN = ""

    assert client.get("/metrics").status_code == 200


@pytest.mark.parametrize(
    "production, token, ids",
    [(True, "", ["observability.E001"]), (True, "t", []), (False, "", [])],
    ids=["production-without-token", "production-with-token", "development"],
)
def test_the_deploy_check_wants_a_token_in_production_only(
    settings, production, token, ids
):
    settings.PRODUCTION = production
    settings.METRICS_TOKEN = token

    assert [message.id for message in check_metrics_token(None)] == ids


def test_check_deploy_fails_in_production_without_a_metrics_token():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=ROOT, env=PRODUCTION_ENV, capture_output=True, text=True,
    )

    assert result.returncode != 0
    assert "observability.E001" in result.stderr
    assert "METRICS_TOKEN is not set" in result.stderr
