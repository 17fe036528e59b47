"""/metrics parsed by prometheus-client's own parser, against the live platform."""

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from runs import engine
from runs.models import Queue
from tests.live import poll


def scrape(platform) -> dict:
    response = httpx.get(f"{platform.url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        family.name: family for family in text_string_to_metric_families(response.text)
    }


def value(families, sample_name, **labels):
    """The value of one sample, 0 when it is absent."""
    family_name = (
        sample_name.removesuffix("_total")
        .removesuffix("_count")
        .removesuffix("_bucket")
    )
    for sample in families[family_name].samples:
        if sample.name == sample_name and all(
            sample.labels.get(k) == v for k, v in labels.items()
        ):
            return sample.value
    return 0


def trigger(platform, key, task, payload=None):
    response = httpx.post(
        f"{platform.url}/api/v1/tasks/{task}/trigger",
        json={"payload": payload or {}},
        headers={"Authorization": f"Bearer {key}"},
    )
    return response.json()["id"]


def finished(platform, key, run_id):
    def check():
        run = httpx.get(
            f"{platform.url}/api/v3/runs/{run_id}",
            headers={"Authorization": f"Bearer {key}"},
        ).json()
        return run["isCompleted"]

    poll(check, timeout=30)


@pytest.fixture
def env_label(live_project):
    return f"{live_project.project.slug}/dev"


def test_run_counters_and_attempt_durations_grow_as_runs_finish(
    platform, live_project, env_label
):
    before = scrape(platform)
    assert (
        value(
            before,
            "triggerkit_runs_triggered_total",
            environment=env_label,
            task="echo",
        )
        == 0
    )

    # When: one run completes and one fails.
    ok = trigger(platform, live_project.dev, "echo", {"n": 1})
    failed = trigger(platform, live_project.dev, "quick-fail", {"why": "metrics"})
    finished(platform, live_project.dev, ok)
    finished(platform, live_project.dev, failed)

    # Then: the counters and the histogram say so.
    after = scrape(platform)
    labels = {"environment": env_label}
    assert value(after, "triggerkit_runs_triggered_total", task="echo", **labels) == 1
    assert (
        value(
            after,
            "triggerkit_runs_finished_total",
            task="echo",
            status="COMPLETED",
            **labels,
        )
        == 1
    )
    assert (
        value(
            after,
            "triggerkit_runs_finished_total",
            task="quick-fail",
            status="FAILED",
            **labels,
        )
        == 1
    )
    assert (
        value(
            after,
            "triggerkit_attempt_duration_seconds_count",
            task="echo",
            status="COMPLETED",
            **labels,
        )
        == 1
    )
    assert (
        value(
            after,
            "triggerkit_attempt_duration_seconds_bucket",
            task="echo",
            status="COMPLETED",
            le="+Inf",
            **labels,
        )
        == 1
    )
    assert (
        value(
            after,
            "triggerkit_attempt_duration_seconds_count",
            task="quick-fail",
            status="FAILED",
            **labels,
        )
        == 1
    )

    # And: another run of the same task adds one more.
    finished(platform, live_project.dev, trigger(platform, live_project.dev, "echo"))
    again = scrape(platform)
    assert (
        value(
            again,
            "triggerkit_runs_finished_total",
            task="echo",
            status="COMPLETED",
            **labels,
        )
        == 2
    )


def test_queue_depth_and_oldest_age_follow_a_paused_queue(
    platform, live_project, env_label
):
    queue = Queue.objects.get(
        environment=live_project.environments["DEVELOPMENT"], name="task/echo"
    )
    engine.pause_queue(queue.pk)
    runs = [trigger(platform, live_project.dev, "echo", {"n": n}) for n in range(3)]

    paused = scrape(platform)
    labels = {"environment": env_label, "queue": "task/echo"}
    assert value(paused, "triggerkit_queue_depth", **labels) == 3
    assert value(paused, "triggerkit_queue_paused", **labels) == 1
    assert value(paused, "triggerkit_queue_oldest_age_seconds", **labels) > 0
    assert (
        value(
            paused, "triggerkit_runs_unfinished", environment=env_label, status="QUEUED"
        )
        == 3
    )

    engine.resume_queue(queue.pk)
    for run_id in runs:
        finished(platform, live_project.dev, run_id)
    resumed = scrape(platform)
    assert value(resumed, "triggerkit_queue_depth", **labels) == 0
    assert value(resumed, "triggerkit_queue_oldest_age_seconds", **labels) == 0
    assert (
        value(
            resumed,
            "triggerkit_runs_unfinished",
            environment=env_label,
            status="QUEUED",
        )
        == 0
    )


def test_executing_runs_count_against_their_queue(platform, live_project, env_label):
    run_id = trigger(platform, live_project.dev, "sleep", {"seconds": 3})
    labels = {"environment": env_label, "queue": "sleepers"}

    poll(
        lambda: value(scrape(platform), "triggerkit_queue_executing", **labels) == 1,
        timeout=15,
    )
    assert value(scrape(platform), "triggerkit_queue_concurrency_limit", **labels) == 2

    finished(platform, live_project.dev, run_id)
    assert value(scrape(platform), "triggerkit_queue_executing", **labels) == 0


def test_workers_alive_counts_the_running_worker(platform):
    families = scrape(platform)

    assert value(families, "triggerkit_workers_alive") >= 1
    assert value(families, "triggerkit_database_up") == 1


def test_api_latency_is_observed_by_route_and_status(platform, live_project):
    trigger(platform, live_project.dev, "echo")
    httpx.get(
        f"{platform.url}/api/v3/runs/run_00000000000000000000000000",
        headers={"Authorization": f"Bearer {live_project.dev}"},
    )

    # Each gunicorn worker counts its own requests (no PROMETHEUS_MULTIPROC_DIR here),
    # so scrape until the process that answered the trigger answers the scrape.
    def seen():
        families = scrape(platform)
        return value(
            families,
            "triggerkit_api_request_duration_seconds_count",
            method="POST",
            route="api/v1/tasks/<path:task_id>/trigger",
            status="200",
        )

    assert poll(seen, timeout=10) >= 1
