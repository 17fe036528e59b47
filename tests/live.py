"""Starting the real platform (gunicorn, Celery worker, Celery beat) for tests."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import httpx

from bench.processes import BIN, ROOT, Process, Processes, free_port
from bench.processes import wait_for as wait_until

__all__ = ["BIN", "ROOT", "Platform", "Process", "free_port", "poll", "wait_until"]


@dataclass
class Platform(Processes):
    """A running web server, worker(s) and beat against one database and broker."""

    url: str = ""

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
        self.stop_all()


def http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


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
