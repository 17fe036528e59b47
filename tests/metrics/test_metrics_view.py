"""/metrics is protected by METRICS_TOKEN when it is set."""

import pytest
from prometheus_client.parser import text_string_to_metric_families

from observability import metrics


@pytest.fixture(autouse=True)
def no_ping(monkeypatch):
    monkeypatch.setattr(metrics, "WORKERS", metrics.WorkersCollector(ping=lambda: 3))


@pytest.mark.django_db
def test_without_a_token_setting_metrics_are_open(client, settings):
    settings.METRICS_TOKEN = ""

    response = client.get("/metrics")

    assert response.status_code == 200
    names = {f.name for f in text_string_to_metric_families(response.content.decode())}
    assert {
        "triggerkit_runs_triggered",
        "triggerkit_queue_depth",
        "triggerkit_workers_alive",
    } <= names


@pytest.mark.django_db
@pytest.mark.parametrize(
    "header, status",
    [(None, 401), ("Bearer wrong", 401), ("Bearer s3cret", 200)],
    ids=["no token", "wrong token", "right token"],
)
def test_with_a_token_setting_only_its_bearer_may_scrape(
    client, settings, header, status
):
    settings.METRICS_TOKEN = "s3cret"
    headers = {"HTTP_AUTHORIZATION": header} if header else {}

    response = client.get("/metrics", **headers)

    assert response.status_code == status
    if status == 401:
        assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.django_db
def test_a_post_to_metrics_is_refused(client):
    assert client.post("/metrics").status_code == 405


def test_the_workers_ping_is_cached_between_scrapes():
    calls = []
    collector = metrics.WorkersCollector(ping=lambda: calls.append(1) or 2)

    first = list(collector.collect())
    list(collector.collect())

    assert first[0].samples[0].value == 2
    assert len(calls) == 1
