"""`triggerkit dev`: web, worker and beat together, the worker restarted on task edits."""

import os
import re
import signal
import socket
import textwrap
import uuid

import httpx
import pytest

from runs.launcher import port_is_free
from tests.cli import isolated
from tests.cli.conftest import run_cli
from tests.live import BIN, Platform, free_port, poll, wait_until

TASKS_V1 = """
from triggerkit import task

@task(id="dev-version")
def version(payload):
    return {"version": 1}
"""

TASKS_V2 = """
from triggerkit import task

@task(id="dev-version")
def version(payload):
    return {"version": 2}

@task(id="dev-added")
def added(payload):
    return {"added": True}
"""


def write(path, text):
    path.write_text(textwrap.dedent(text))
    # Move the mtime clearly forward, whatever the file system's resolution.
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))


@pytest.fixture(scope="module")
def dev(tmp_path_factory):
    source = tmp_path_factory.mktemp("devsrc")
    package = source / f"devtasks_{uuid.uuid4().hex[:8]}"
    package.mkdir()
    (package / "__init__.py").write_text("")
    write(package / "tasks.py", TASKS_V1)

    with isolated.fresh_database(migrate=False) as url:
        isolated.flush_broker()
        env = isolated.isolated_env(url, PYTHONPATH=str(source))
        live = Platform(env, tmp_path_factory.mktemp("dev"))
        port = free_port()
        process = live.spawn(
            "dev",
            [
                str(BIN / "triggerkit"),
                "dev",
                "--port",
                str(port),
                "--tasks",
                f"examples.tasks,{package.name}.tasks",
            ],
        )
        try:
            wait_until(
                lambda: "Press Ctrl-C to stop" in process.log(),
                process,
                "dev",
                timeout=120,
            )
            live.url = f"http://127.0.0.1:{port}"
            live.key = re.search(
                r"TRIGGER_SECRET_KEY=(tr_dev_\w+)", process.log()
            ).group(1)
            live.package = package
            live.process = process
            live.port = port
            yield live
        finally:
            live.stop()


def run_output(dev, task):
    headers = {"Authorization": f"Bearer {dev.key}"}
    response = httpx.post(
        f"{dev.url}/api/v1/tasks/{task}/trigger", json={}, headers=headers
    )
    run_id = response.json()["id"]

    def finished():
        run = httpx.get(f"{dev.url}/api/v3/runs/{run_id}", headers=headers).json()
        return run if run["isCompleted"] else None

    run = poll(finished, timeout=60, interval=0.3)
    assert run["status"] == "COMPLETED", run
    return run["output"]


def test_dev_prints_how_to_reach_it_and_what_it_watches(dev):
    log = dev.process.log()

    assert "Triggerkit is running." in log
    watched = re.search(
        r"The worker restarts when a \.py file changes under: (.+)", log
    )
    assert watched is not None
    assert str(dev.package) in watched.group(1)


def test_dev_runs_the_tasks_of_the_modules_given(dev):
    assert run_output(dev, "dev-version") == {"version": 1}
    assert run_output(dev, "hello-world") == {"message": "Hello, world!"}


def test_dev_restarts_the_worker_when_a_task_module_changes(dev):
    # Given: a run of the first version. When: the module is edited.
    assert run_output(dev, "dev-version") == {"version": 1}
    write(dev.package / "tasks.py", TASKS_V2)

    # Then: the worker restarts, runs the new code and knows the new task.
    poll(lambda: "restarting the worker" in dev.process.log(), timeout=15)
    assert run_output(dev, "dev-version") == {"version": 2}
    assert run_output(dev, "dev-added") == {"added": True}


def test_dev_keeps_going_when_an_edit_breaks_the_module_and_recovers_on_the_fix(dev):
    restarts = dev.process.log().count("restarting the worker")
    write(dev.package / "tasks.py", "this is not python\n")
    poll(
        lambda: "NameError: name 'this' is not defined" in dev.process.log(), timeout=30
    )

    write(dev.package / "tasks.py", TASKS_V2)
    poll(
        lambda: dev.process.log().count("restarting the worker") == restarts + 2,
        timeout=15,
    )
    assert run_output(dev, "dev-added") == {"added": True}


def test_ctrl_c_stops_dev_and_all_its_processes(dev):
    dev.process.popen.send_signal(signal.SIGINT)

    assert dev.process.popen.wait(60) == 0
    assert "Stopping web, worker, beat" in dev.process.log()
    assert port_is_free("127.0.0.1", dev.port)


# Start-up errors: exit codes of docs/cli.md, one line on stderr, nothing started.


@pytest.fixture
def unstarted_env(tmp_path):
    """Settings that reach nothing: a dev that got past its checks would exit 4."""
    broken = tmp_path / "brokenpkg"
    broken.mkdir()
    (broken / "__init__.py").write_text("raise RuntimeError('config file missing')\n")
    (broken / "tasks.py").write_text("")
    return {
        "DATABASE_URL": "postgres://postgres@127.0.0.1:1/nothing",
        "CELERY_BROKER_URL": isolated.broker_url(),
        "PYTHONPATH": str(tmp_path),
    }


def assert_one_line_error(result, code, message):
    assert result.code == code, result.err
    assert result.err == f"triggerkit: {message}\n"
    assert result.out == ""


def test_dev_on_a_port_in_use_exits_4_and_names_the_port(unstarted_env):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        result = run_cli("dev", "--port", str(port), env=unstarted_env)

    assert_one_line_error(
        result, 4, f"port {port} is already in use; pick another with --port"
    )


@pytest.mark.parametrize(
    ("module", "message"),
    [
        ("no_such_module.tasks", "task module 'no_such_module.tasks' cannot be found"),
        (
            "examples.no_such_tasks",
            "task module 'examples.no_such_tasks' cannot be found",
        ),
        (
            "brokenpkg.tasks",
            "task module 'brokenpkg.tasks' cannot be imported: "
            "RuntimeError: config file missing",
        ),
    ],
    ids=["unknown package", "unknown module", "package fails to import"],
)
def test_dev_with_a_task_module_it_cannot_load_exits_1(unstarted_env, module, message):
    result = run_cli(
        "dev", "--port", str(free_port()), "--tasks", module, env=unstarted_env
    )

    assert_one_line_error(result, 1, message)


def test_dev_with_a_watch_path_that_does_not_exist_exits_1(unstarted_env, tmp_path):
    missing = tmp_path / "no-such-folder"

    result = run_cli(
        "dev", "--port", str(free_port()), "--watch", str(missing), env=unstarted_env
    )

    assert_one_line_error(result, 1, f"--watch {missing}: no such file or folder")
