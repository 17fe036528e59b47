"""`triggerkit worker` and `triggerkit beat` run the platform's background processes."""

import signal
import time

import httpx
import pytest

from tests.cli import isolated
from tests.cli.conftest import run_cli
from tests.live import BIN, poll, wait_until


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Web on a database and broker of its own, with a project and a dev key."""
    with isolated.platform(
        tmp_path_factory.mktemp("cli-worker"),
        "CLI",
        "cli",
        background=False,
        TRIGGERKIT_TASK_MODULES="examples.tasks",
    ) as live:
        yield live


def trigger(site, task, payload):
    response = httpx.post(
        f"{site.url}/api/v1/tasks/{task}/trigger",
        json={"payload": payload},
        headers={"Authorization": f"Bearer {site.key}"},
    )
    return response.json()["id"]


def retrieve(site, run_id):
    headers = {"Authorization": f"Bearer {site.key}"}
    return httpx.get(f"{site.url}/api/v3/runs/{run_id}", headers=headers).json()


def test_worker_and_beat_execute_runs_of_the_task_modules_given(site):
    worker = site.spawn(
        "worker",
        [
            str(BIN / "triggerkit"),
            "worker",
            "--tasks",
            "tests.cli.worker_tasks",
            "--concurrency",
            "1",
            "--name",
            "cli@%h",
        ],
    )
    beat = site.spawn(
        "beat",
        [
            str(BIN / "triggerkit"),
            "beat",
            "--schedule",
            str(site.log_dir / "beat-state"),
        ],
    )
    wait_until(lambda: " ready." in worker.log(), worker, "worker")
    wait_until(lambda: "beat: Starting" in beat.log(), beat, "beat")

    run_id = trigger(site, "cli-worker-pid", {"n": 1})
    run = poll(lambda: (r := retrieve(site, run_id))["isCompleted"] and r, timeout=30)

    assert run["status"] == "COMPLETED"
    assert run["output"]["echo"] == {"n": 1}
    assert "registered 1 tasks" in worker.log()

    # When: both are asked to stop. Then: they exit cleanly.
    worker.popen.send_signal(signal.SIGTERM)
    beat.popen.send_signal(signal.SIGTERM)
    assert worker.popen.wait(30) == 0
    assert beat.popen.wait(30) == 0


def start_worker(site, name, *args):
    worker = site.spawn(
        name,
        [
            str(BIN / "triggerkit"),
            "worker",
            "--tasks",
            "tests.cli.worker_tasks",
            "--concurrency",
            "1",
            "--name",
            f"{name}@%h",
            *args,
        ],
    )
    wait_until(lambda: " ready." in worker.log(), worker, name)
    return worker


def test_a_worker_on_other_celery_queues_leaves_runs_to_the_default_queue(site):
    # Given: a worker consuming only a Celery queue no run is published to.
    parked = start_worker(site, "parked", "--queues", "elsewhere,reports")
    assert ".> elsewhere" in parked.log() and ".> reports" in parked.log()
    assert ".> triggerkit" not in parked.log()

    # When: a run is triggered. Then: it stays dequeued, never started.
    run_id = trigger(site, "cli-worker-pid", {"n": 2})
    time.sleep(3)
    waiting = httpx.get(
        f"{site.url}/api/v3/runs/{run_id}",
        # The v2 status names, which tell DEQUEUED from EXECUTING.
        headers={
            "Authorization": f"Bearer {site.key}",
            "x-trigger-api-version": "2025-07-16",
        },
    ).json()
    assert waiting["status"] == "DEQUEUED"
    assert waiting["attemptCount"] == 0 and "startedAt" not in waiting

    # When: a worker on the default queue (triggerkit) starts. Then: it runs it.
    default = start_worker(site, "default")
    run = poll(lambda: (r := retrieve(site, run_id))["isCompleted"] and r, timeout=30)

    assert run["status"] == "COMPLETED"
    assert run["output"]["pid"] in {process.pid for process in default.tree()}
    assert ".> triggerkit" in default.log()
    default.stop()
    parked.stop()


def test_worker_with_an_unknown_task_module_exits_1(site):
    result = run_cli("worker", "--tasks", "no_such_module.tasks", env=site.env)

    assert result.code == 1
    assert "task module 'no_such_module.tasks' cannot be found" in result.err


def test_worker_with_zero_concurrency_exits_1(site):
    result = run_cli("worker", "--concurrency", "0", env=site.env)

    assert result.code == 1


@pytest.mark.parametrize("command", ["worker", "beat"])
def test_worker_and_beat_without_database_settings_or_embedded_server_exit_4(
    command, tmp_path
):
    env = {
        "TRIGGERKIT_VAR_DIR": str(tmp_path),
        "DATABASE_URL": "",
        "CELERY_BROKER_URL": "",
    }

    result = run_cli(command, env=env)

    assert result.code == 4
    assert "embedded PostgreSQL is not running" in result.err
