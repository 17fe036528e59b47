"""`triggerkit worker` and `triggerkit beat` run the platform's background processes."""

import signal

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
