"""LOG_FORMAT=json: web, worker and beat print JSON lines with the run's fields bound."""

import json

import httpx
import pytest

from tests.cli import isolated
from tests.live import poll


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with isolated.platform(
        tmp_path_factory.mktemp("json-logs"),
        "Logs",
        "logs",
        "prod",
        LOG_FORMAT="json",
        TRIGGERKIT_TASK_MODULES="examples.tasks",
    ) as live:
        yield live


def json_lines(process):
    """The log lines that are JSON objects (Celery's start banner is not logging)."""
    lines = []
    for line in process.log().splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def test_worker_lines_of_a_run_carry_its_id_task_attempt_and_environment(site):
    headers = {"Authorization": f"Bearer {site.key}"}
    response = httpx.post(
        f"{site.url}/api/v1/tasks/hello-world/trigger",
        json={"payload": {"name": "Ada", "secret": site.key}},
        headers=headers,
    )
    run_id = response.json()["id"]
    worker = next(p for p in site.processes if p.name == "worker")

    started = poll(
        lambda: [
            line
            for line in json_lines(worker)
            if line.get("action") == "attempt_completed"
        ],
        timeout=30,
    )

    [completed] = started
    assert completed["run_id"] == run_id
    assert completed["task"] == "hello-world"
    assert completed["environment"] == "logs/prod"
    [begun] = [
        line for line in json_lines(worker) if line.get("action") == "attempt_started"
    ]
    assert begun["attempt"] == 1 and begun["run_id"] == run_id
    assert site.key not in worker.log()


def test_every_logging_line_of_web_worker_and_beat_is_json(site):
    # Django logs a 404 as a warning of django.request.
    assert httpx.get(f"{site.url}/no-such-page-{site.key}").status_code == 404
    web = next(p for p in site.processes if p.name == "web")
    poll(lambda: "Not Found" in web.log(), timeout=10)
    assert site.key not in web.log()

    for process in site.processes:
        logged = [
            line
            for line in process.log().splitlines()
            if line.startswith("{") or " INFO " in line or " WARNING " in line
        ]
        assert logged, process.name
        for line in logged:
            if process.name == "web" and line.startswith("["):
                continue  # gunicorn's own lines (start-up, workers booting)
            assert json.loads(line)["level"], line
