"""`manage.py up` from nothing: embedded servers, first secrets, a run, a clean stop.

The launcher runs with DATABASE_URL and CELERY_BROKER_URL removed and its own
var folder, so it starts a fresh embedded PostgreSQL and Redis and never
touches the machine's services. Each launch writes its output to a file.
"""

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil
import psycopg
import pytest

from tests.live import ROOT, free_port

FIRST_START_TIMEOUT_SECONDS = 180
LATER_START_TIMEOUT_SECONDS = 90
STOP_TIMEOUT_SECONDS = 60
RUN_TIMEOUT_SECONDS = 60
READY_LINE = "Press Ctrl-C to stop."
KEY_LINE = re.compile(r"export TRIGGER_SECRET_KEY=(\S+)")
URL_LINE = re.compile(r"export TRIGGER_API_URL=(\S+)")
LOGIN_LINE = re.compile(r"Login\s+(\S+) / (\S+)")
# The launcher must decide everything from TRIGGERKIT_VAR_DIR alone.
REMOVED_VARIABLES = {"DATABASE_URL", "CELERY_BROKER_URL", "STATIC_ROOT", "SITE_URL"}


def launcher_env(var_dir: Path) -> dict:
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in REMOVED_VARIABLES and not name.startswith("TRIGGERKIT_")
    }
    env.update(
        {
            "TRIGGERKIT_VAR_DIR": str(var_dir),
            # pytest-django exported tests.settings, which points at the machine.
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


class Launch:
    """One `manage.py up` subprocess."""

    def __init__(self, var_dir: Path, name: str) -> None:
        self.port = free_port()
        self.log_path = var_dir / f"{name}.log"
        with self.log_path.open("w") as log:
            self.popen = subprocess.Popen(
                [sys.executable, "manage.py", "up", "--port", str(self.port)],
                cwd=ROOT,
                env=launcher_env(var_dir),
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_until_ready(self, timeout: float) -> None:
        """Wait for the welcome block, which comes once the web server answers."""
        deadline = time.monotonic() + timeout
        while READY_LINE not in self.output():
            if self.popen.poll() is not None:
                code = self.popen.returncode
                raise AssertionError(f"up exited with {code}:\n{self.tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"up not ready within {timeout}s:\n{self.tail()}")
            time.sleep(0.2)

    def children(self) -> list:
        return psutil.Process(self.popen.pid).children(recursive=True)

    def interrupt(self) -> int:
        self.popen.send_signal(signal.SIGINT)
        return self.popen.wait(STOP_TIMEOUT_SECONDS)

    def stop(self) -> None:
        """Stop the launcher and whatever it started, however it behaves."""
        if self.popen.poll() is not None:
            return
        children = self.children()
        try:
            self.interrupt()
        except subprocess.TimeoutExpired:
            for process in [self.popen, *children]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGKILL)
            self.popen.wait()

    def tail(self) -> str:
        return self.output()[-5000:]

    @contextlib.contextmanager
    def explaining(self):
        """Fail with what up printed when its web server cannot be reached."""
        try:
            yield
        except httpx.TransportError as exc:
            raise AssertionError(f"{exc!r}; up printed:\n{self.tail()}") from exc


@pytest.fixture(scope="module")
def var_dir():
    # Short on purpose: Unix socket paths inside it must stay under ~100 bytes.
    path = Path(tempfile.mkdtemp(prefix="tk-", dir="/tmp"))
    yield path
    subprocess.run(
        [sys.executable, "-c", "from config import embedded; embedded.stop()"],
        cwd=ROOT,
        env=launcher_env(path),
        check=False,
    )
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def first_start(var_dir):
    launch = Launch(var_dir, "first")
    try:
        launch.wait_until_ready(FIRST_START_TIMEOUT_SECONDS)
        yield launch
    finally:
        launch.stop()


@pytest.fixture(scope="module")
def used_var_dir(first_start, var_dir):
    """The var folder after a first start that has been stopped."""
    first_start.stop()
    return var_dir


@pytest.fixture(scope="module")
def later_start(used_var_dir):
    launch = Launch(used_var_dir, "later")
    try:
        launch.wait_until_ready(LATER_START_TIMEOUT_SECONDS)
        yield launch
    finally:
        launch.stop()


def printed(launch: Launch, pattern: re.Pattern) -> re.Match:
    match = pattern.search(launch.output())
    assert match, f"{pattern.pattern!r} not in the output:\n{launch.tail()}"
    return match


def run_hello_world(launch: Launch, api_url: str, key: str, name: str) -> dict:
    headers = {"Authorization": f"Bearer {key}"}
    with launch.explaining():
        response = httpx.post(
            f"{api_url}/api/v1/tasks/hello-world/trigger",
            json={"payload": {"name": name}},
            headers=headers,
        )
        assert response.status_code == 200, response.text
        run_id = response.json()["id"]
        # The first run may wait for the worker to register its tasks.
        deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
        while True:
            run = httpx.get(f"{api_url}/api/v3/runs/{run_id}", headers=headers).json()
            if run["status"] == "COMPLETED":
                return run
            if time.monotonic() > deadline:
                raise AssertionError(f"run still {run['status']}:\n{launch.tail()}")
            time.sleep(0.2)


def assert_embedded_servers_stopped(var_dir: Path) -> None:
    redis_socket = var_dir / "redis" / "redis.sock"
    with socket.socket(socket.AF_UNIX) as client, pytest.raises(OSError):
        client.connect(str(redis_socket))
    assert not (var_dir / "postgres" / "postmaster.pid").exists()


def query_embedded_database(var_dir: Path, sql: str) -> list:
    uri = f"postgres://postgres@/triggerkit?host={var_dir / 'postgres'}"
    with psycopg.connect(uri) as conn:
        return conn.execute(sql).fetchall()


def test_first_start_prints_the_api_url_and_a_development_key(first_start):
    key = printed(first_start, KEY_LINE).group(1)
    url = printed(first_start, URL_LINE).group(1)

    assert re.fullmatch(r"tr_dev_[0-9A-Za-z]{24}", key)
    assert url == f"http://localhost:{first_start.port}"
    assert f"Dashboard  http://localhost:{first_start.port}/" in first_start.output()


def test_the_printed_login_opens_the_dashboard(first_start):
    username, password = printed(first_start, LOGIN_LINE).groups()
    base_url = f"http://127.0.0.1:{first_start.port}"

    with first_start.explaining(), httpx.Client(base_url=base_url) as browser:
        browser.get("/login/")
        response = browser.post(
            "/login/",
            data={
                "username": username,
                "password": password,
                "csrfmiddlewaretoken": browser.cookies["csrftoken"],
            },
        )

    assert username == "admin"
    assert response.status_code == 302, response.text
    assert response.headers["location"] == "/"


def test_first_start_adds_the_admin_to_a_demo_project(first_start, var_dir):
    environments = query_embedded_database(
        var_dir,
        "SELECT e.kind FROM apikeys_environment e JOIN apikeys_project p"
        " ON p.id = e.project_id WHERE p.slug = 'demo' ORDER BY e.kind",
    )
    members = query_embedded_database(
        var_dir,
        "SELECT u.username, u.is_superuser FROM apikeys_project_members m"
        " JOIN auth_user u ON u.id = m.user_id"
        " JOIN apikeys_project p ON p.id = m.project_id WHERE p.slug = 'demo'",
    )

    assert environments == [("DEVELOPMENT",), ("PRODUCTION",), ("STAGING",)]
    assert members == [("admin", True)]


def test_a_run_triggered_with_the_printed_key_completes(first_start):
    key = printed(first_start, KEY_LINE).group(1)
    url = printed(first_start, URL_LINE).group(1)

    run = run_hello_world(first_start, url, key, "Ada")

    assert run["output"] == {"message": "Hello, Ada!"}


def test_ctrl_c_stops_everything_and_exits_0(first_start, var_dir):
    children = first_start.children()
    assert len(children) >= 3, first_start.tail()

    returncode = first_start.interrupt()

    assert returncode == 0, first_start.tail()
    _, alive = psutil.wait_procs(children, timeout=5)
    assert alive == []
    assert_embedded_servers_stopped(var_dir)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{first_start.port}/healthz")


def test_a_later_start_says_the_secrets_were_shown_at_first_start(later_start):
    output = later_start.output()

    assert "shown at first start" in output
    assert "create_key demo dev" in output
    assert "changepassword admin" in output
    assert not KEY_LINE.search(output)
    assert f"export TRIGGER_API_URL=http://localhost:{later_start.port}" in output


def test_a_key_from_create_key_works_on_the_running_platform(later_start, used_var_dir):
    result = subprocess.run(
        [sys.executable, "manage.py", "create_key", "demo", "dev", "--name", "laptop"],
        cwd=ROOT,
        env=launcher_env(used_var_dir),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    key = result.stdout.strip()

    run = run_hello_world(
        later_start, f"http://127.0.0.1:{later_start.port}", key, "Grace"
    )

    assert key.startswith("tr_dev_")
    assert run["output"] == {"message": "Hello, Grace!"}


def test_a_second_launcher_on_the_same_var_folder_is_refused(later_start, used_var_dir):
    result = subprocess.run(
        [sys.executable, "manage.py", "up", "--port", str(free_port())],
        cwd=ROOT,
        env=launcher_env(used_var_dir),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 3
    assert "already running" in result.stderr
    assert httpx.get(f"http://127.0.0.1:{later_start.port}/healthz").status_code == 200


def test_ctrl_c_after_a_later_start_exits_0(later_start, used_var_dir):
    returncode = later_start.interrupt()

    assert returncode == 0, later_start.tail()
    assert_embedded_servers_stopped(used_var_dir)


def test_when_a_process_dies_the_others_are_stopped_and_up_exits_1(used_var_dir):
    launch = Launch(used_var_dir, "dying")
    try:
        launch.wait_until_ready(LATER_START_TIMEOUT_SECONDS)
        children = launch.children()
        direct = psutil.Process(launch.popen.pid).children()
        beat = next(process for process in direct if "beat" in process.cmdline())

        beat.kill()
        returncode = launch.popen.wait(STOP_TIMEOUT_SECONDS)
    finally:
        launch.stop()

    assert returncode == 1
    assert "beat exited unexpectedly (killed by SIGKILL)" in launch.output()
    _, alive = psutil.wait_procs(children, timeout=5)
    assert alive == []
    assert_embedded_servers_stopped(used_var_dir)


def test_a_taken_port_is_refused_before_anything_starts():
    var_dir = Path(tempfile.mkdtemp(prefix="tk-", dir="/tmp"))
    try:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            result = subprocess.run(
                [sys.executable, "manage.py", "up", "--port", str(port)],
                cwd=ROOT,
                env=launcher_env(var_dir),
                capture_output=True,
                text=True,
                timeout=60,
            )
        started_postgres = (var_dir / "postgres").exists()
    finally:
        shutil.rmtree(var_dir, ignore_errors=True)

    assert result.returncode == 3
    assert f"port {port} is already in use" in result.stderr
    assert not started_postgres
