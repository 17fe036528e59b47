"""Triggerkit as a system under test: gunicorn, one Celery worker, beat."""

from __future__ import annotations

import time

from django.db import OperationalError, connection
from django.db.models import Max

from bench.api import Api
from bench.processes import (
    BENCH_RATE_LIMIT_PER_MINUTE,
    BIN,
    Process,
    Processes,
    celery_worker_args,
    free_port,
    wait_for,
)
from bench.services import Target
from bench.systems import WORKER_CONCURRENCY, System

WEB_WORKERS, WEB_THREADS = 2, 4
try:  # The launcher's own numbers, so the bench measures what `manage.py up` runs.
    from runs.launcher import WEB_THREADS, WEB_WORKERS
except ImportError:
    pass

RUNS_QUEUE = "triggerkit"
RESET_ATTEMPTS = 5


def start_web(processes: Processes) -> tuple[Process, str]:
    import httpx

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    web = processes.spawn(
        "web",
        [
            str(BIN / "gunicorn"),
            "config.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            str(WEB_WORKERS),
            "-k",
            "gthread",
            "--threads",
            str(WEB_THREADS),
            "--log-level",
            "warning",
        ],
        {"TRIGGERKIT_API_RATE_LIMIT_PER_MINUTE": str(BENCH_RATE_LIMIT_PER_MINUTE)},
    )

    def healthy() -> bool:
        try:
            return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(healthy, web, "web server")
    return web, url


def reset_runs() -> None:
    """Forget every run, batch and remembered request (and what hangs off them).

    A worker may still be finishing the last run it was given (the warm-up's
    stamps return as soon as the task body starts): TRUNCATE then meets its
    row locks in another order and PostgreSQL picks one side to fail. The
    worker's side is the one that matters, so the TRUNCATE tries again.
    """
    for attempt in range(RESET_ATTEMPTS):
        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    "TRUNCATE runs_run, runs_batch, runs_requestidempotency "
                    "RESTART IDENTITY CASCADE"
                )
            return
        except OperationalError:
            if attempt == RESET_ATTEMPTS - 1:
                raise
            time.sleep(0.5)


class Triggerkit(System):
    def __init__(
        self, target: Target, processes: Processes, api: Api, environment
    ) -> None:
        super().__init__("Triggerkit", target, processes)
        self.api = api
        self.environment = environment

    def spawn_worker(self) -> Process:
        # Messages left by a capped drain would only slow the next warm-up.
        self.target.flush("triggerkit")
        reset_runs()
        worker = self.spawn_pool("triggerkit-worker", WORKER_CONCURRENCY)
        self.extra = [self.spawn_beat()]
        return worker

    def start_pools(self, count: int, concurrency: int) -> list[Process]:
        """`count` Celery workers of `concurrency` processes each, and beat, warmed up."""
        self.target.flush("triggerkit")
        reset_runs()
        pools = [
            self.spawn_pool(f"triggerkit-worker-{number}", concurrency)
            for number in range(1, count + 1)
        ]
        self.worker, self.extra = pools[0], [*pools[1:], self.spawn_beat()]
        self.warm_up()
        return pools

    def spawn_beat(self) -> Process:
        schedule = self.processes.log_dir / "celerybeat-schedule"
        return self.processes.spawn(
            "triggerkit-beat",
            [
                str(BIN / "celery"),
                "-A",
                "config",
                "beat",
                "-l",
                "warning",
                "-s",
                str(schedule),
            ],
            self.worker_env(),
        )

    def worker_env(self) -> dict[str, str]:
        env = self.peer_env()
        for name in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "CELERY_BROKER_URL"):
            env.pop(name)
        return env

    def spawn_pool(self, name: str, concurrency: int) -> Process:
        """A Celery worker of the runs queue, named after its process."""
        return self.processes.spawn(
            name,
            celery_worker_args("config", RUNS_QUEUE, concurrency, name),
            self.worker_env(),
        )

    def reset(self) -> None:
        reset_runs()

    def enqueue_noops(self, count: int) -> None:
        for start in range(0, count, 1000):
            size = min(1000, count - start)
            self.api.batch("bench-noop", [{}] * size)

    def completed(self) -> tuple[int, float | None]:
        from runs.models import Run

        done = Run.objects.filter(
            environment=self.environment,
            task_identifier="bench-noop",
            status="COMPLETED",
        )
        count = done.count()
        last = done.aggregate(last=Max("finished_at"))["last"] if count else None
        return count, last.timestamp() if last else None

    def trigger_stamp(self, token: str) -> None:
        self.api.trigger("bench-stamp", {"token": token})

    def wait_idle(self, timeout: float = 60) -> None:
        """Wait until no run of the environment is queued or executing."""
        from runs.models import Run

        deadline = time.monotonic() + timeout
        busy = ("QUEUED", "DEQUEUED", "EXECUTING", "WAITING", "DELAYED", "RETRYING")
        while Run.objects.filter(
            environment=self.environment, status__in=busy
        ).exists():
            if time.monotonic() > deadline:
                raise TimeoutError("runs still busy")
            time.sleep(0.1)
