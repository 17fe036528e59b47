"""A run that fails for good calls the environment's webhook, once per task per interval."""

import time

import httpx
import pytest

from alerts.models import Alert, AlertSettings, AlertThrottle
from tests.live import poll


def trigger(platform, key, task, payload):
    response = httpx.post(
        f"{platform.url}/api/v1/tasks/{task}/trigger",
        json={"payload": payload},
        headers={"Authorization": f"Bearer {key}"},
    )
    return response.json()["id"]


def retrieve(platform, key, run_id):
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.get(f"{platform.url}/api/v3/runs/{run_id}", headers=headers).json()


def status_of(platform, key, run_id):
    return retrieve(platform, key, run_id)["status"]


def test_a_failed_run_alerts_the_webhook_once_per_interval(
    platform, live_project, webhook
):
    environment = live_project.environments["DEVELOPMENT"]
    port = webhook.server_address[1]
    AlertSettings.objects.create(
        environment=environment, webhook_url=f"http://127.0.0.1:{port}/hook"
    )

    # Given: a run that fails for good (quick-fail has one attempt).
    first = trigger(platform, live_project.dev, "quick-fail", {"why": "disk full"})
    poll(lambda: webhook.received, timeout=30)

    # Then: the webhook got the failure with a link to the run page.
    [call] = webhook.received
    body = call["body"]
    assert call["path"] == "/hook"
    assert body["type"] == "run.failed"
    assert body["task"] == "quick-fail"
    assert body["project"] == live_project.project.slug and body["environment"] == "dev"
    assert body["run"] == {
        "id": first,
        "status": "FAILED",
        "url": f"http://localhost:8000/runs/{first}",
    }
    assert body["message"] == "disk full"
    assert call["headers"]["Content-Type"] == "application/json"

    # When: the same task fails again within the interval.
    second = trigger(platform, live_project.dev, "quick-fail", {"why": "still full"})
    poll(lambda: status_of(platform, live_project.dev, second) == "FAILED")
    poll(
        lambda: (
            AlertThrottle.objects.get(
                environment=environment, task="quick-fail"
            ).suppressed
            == 1
        )
    )
    time.sleep(1)

    # Then: no second call; the alert was held back and counted.
    assert len(webhook.received) == 1
    assert Alert.objects.filter(environment=environment).count() == 1
    assert Alert.objects.get(environment=environment).delivered_at is not None


def test_completed_and_retrying_runs_do_not_alert(platform, live_project, webhook):
    environment = live_project.environments["DEVELOPMENT"]
    AlertSettings.objects.create(
        environment=environment,
        webhook_url=f"http://127.0.0.1:{webhook.server_address[1]}/",
    )

    # Given: a run that completes, and one whose first attempt fails and whose
    # retry completes.
    completed = trigger(platform, live_project.dev, "echo", {"ok": True})
    retried = trigger(platform, live_project.dev, "fails-once", {})
    poll(lambda: status_of(platform, live_project.dev, completed) == "COMPLETED")
    poll(lambda: status_of(platform, live_project.dev, retried) == "COMPLETED")
    time.sleep(1)

    # Then: the retry really happened, and neither run alerted.
    run = retrieve(platform, live_project.dev, retried)
    assert run["attemptCount"] == 2
    assert run["output"] == {"attempts": 2}
    assert webhook.received == []
    assert not Alert.objects.filter(environment=environment).exists()


def test_an_environment_without_destinations_sends_nothing(
    platform, live_project, webhook
):
    run_id = trigger(
        platform, live_project.dev, "quick-fail", {"why": "nobody listens"}
    )
    poll(lambda: status_of(platform, live_project.dev, run_id) == "FAILED")
    time.sleep(1)

    assert not Alert.objects.filter(
        environment=live_project.environments["DEVELOPMENT"]
    ).exists()
    assert webhook.received == []
