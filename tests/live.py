"""Starting the real platform (gunicorn, Celery worker, Celery beat) for tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
START_TIMEOUT_SECONDS = 120


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
        if self.popen.poll() is not None:
            return
        self.popen.send_signal(sig)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()


@dataclass
class Platform:
    """A running web server, worker(s) and beat against one database and broker."""

    env: dict[str, str]
    log_dir: Path
    url: str = ""
    processes: list[Process] = field(default_factory=list)

    def spawn(self, name: str, args: list[str], extra_env: dict[str, str] | None = None) -> Process:
        log_path = self.log_dir / f"{name}.log"
        popen = subprocess.Popen(
            args,
            cwd=ROOT,
            env={**self.env, **(extra_env or {})},
            stdout=log_path.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        process = Process(name, popen, log_path)
        self.processes.append(process)
        return process

    def start_web(self, workers: int = 2) -> Process:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        process = self.spawn(
            "web",
            [str(BIN / "gunicorn"), "config.wsgi", "-b", f"127.0.0.1:{port}",
             "-w", str(workers), "-k", "gthread", "--threads", "4"],
        )
        wait_until(lambda: http_ok(f"{self.url}/healthz"), process, "web server")
        return process

    def start_worker(self, name: str = "worker", concurrency: int = 2) -> Process:
        process = self.spawn(
            name,
            [str(BIN / "celery"), "-A", "config", "worker", "-l", "info",
             "-c", str(concurrency), "-Q", "triggerkit", "-n", f"{name}@%h",
             "--without-mingle", "--without-gossip"],
        )
        wait_until(lambda: " ready." in process.log(), process, name)
        return process

    def start_beat(self) -> Process:
        schedule = self.log_dir / "celerybeat-schedule"
        process = self.spawn(
            "beat",
            [str(BIN / "celery"), "-A", "config", "beat", "-l", "info", "-s", str(schedule)],
        )
        wait_until(lambda: "beat: Starting" in process.log(), process, "beat")
        return process

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()


def http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def wait_until(check, process: Process, what: str, timeout: float = START_TIMEOUT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if process.popen.poll() is not None:
            raise RuntimeError(f"{what} exited early:\n{process.log()[-3000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start in {timeout}s:\n{process.log()[-3000:]}")
        time.sleep(0.1)


def poll(check, timeout: float = 30, interval: float = 0.1):
    """Return check()'s first truthy value, or fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


def platform_env(database_url: str, broker_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": database_url,
            "CELERY_BROKER_URL": broker_url,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "TRIGGERKIT_TASK_MODULES": "examples.tasks,tests.tasks",
            "TRIGGERKIT_TICK_SECONDS": "0.2",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env
