"""The four systems compared end to end, behind one small interface.

Each can start its worker (one process, concurrency 2), forget every job it
knows (`reset`), take n no-op jobs from its fastest producer API, say how many
finished and when the last one did, and start one stamp task (the latency
probe). Only the system being measured has a worker running.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field

import psycopg

from bench.peers import BENCH_QUEUE
from bench.processes import BIN, Process, Processes, celery_worker_args
from bench.services import Target
from bench.stamps import STAMPS_URL_ENV, wait_for_stamp

WORKER_CONCURRENCY = 2
ENQUEUE_CHUNK = 1000
WARMUP_JOBS = 20
STAMP_TIMEOUT_SECONDS = 30
# Environment variables of the runner that must not reach a peer's worker.
TRIGGERKIT_ONLY_ENV = ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "CELERY_BROKER_URL")


@dataclass
class System:
    name: str
    target: Target
    processes: Processes
    worker: Process | None = None
    extra: list[Process] = field(default_factory=list)

    def start(self) -> None:
        self.reset()
        self.worker = self.spawn_worker()
        self.warm_up()

    def stop(self) -> None:
        for process in [*self.extra, self.worker]:
            if process is not None:
                self.processes.stop(process)
        self.worker, self.extra = None, []

    def warm_up(self) -> None:
        """Prove the worker executes: run stamp tasks until they come back."""
        channel = self.target.redis("stamps")
        channel.delete("bench:stamps")
        for number in range(WARMUP_JOBS):
            self.trigger_stamp(f"warmup-{number}")
            wait_for_stamp(channel, STAMP_TIMEOUT_SECONDS)
        self.reset()

    def peer_env(self, **extra: str) -> dict[str, str]:
        # Empty, not absent: the child's environment starts from the runner's.
        env = {name: "" for name in TRIGGERKIT_ONLY_ENV}
        env[STAMPS_URL_ENV] = self.target.redis_url("stamps")
        env.update(extra)
        return env

    def spawn_worker(self) -> Process:
        raise NotImplementedError

    def reset(self) -> None:
        raise NotImplementedError

    def enqueue_noops(self, count: int) -> None:
        raise NotImplementedError

    def completed(self) -> tuple[int, float | None]:
        raise NotImplementedError

    def trigger_stamp(self, token: str) -> None:
        raise NotImplementedError


class CeleryPlain(System):
    app_module = "bench.peers.celery_plain"
    broker_system = "celery"

    def __init__(self, target: Target, processes: Processes) -> None:
        super().__init__("Celery (no results)", target, processes)
        from celery import Celery

        from bench.peers import CELERY_DELIVERY

        self.app = Celery("bench_producer")
        self.app.conf.update(CELERY_DELIVERY, task_ignore_result=True)
        # Explicitly: Celery prefers the runner's CELERY_BROKER_URL (Triggerkit's) to any argument.
        self.connection = self.app.connection_for_write(
            target.broker_url(self.broker_system)
        )
        self.broker = target.redis(self.broker_system)

    def worker_env(self) -> dict[str, str]:
        return self.peer_env(
            BENCH_CELERY_BROKER_URL=self.target.broker_url(self.broker_system)
        )

    def spawn_worker(self) -> Process:
        self.broker.flushdb()
        return self.processes.spawn(
            self.broker_system,
            celery_worker_args(
                self.app_module, BENCH_QUEUE, WORKER_CONCURRENCY, self.broker_system
            ),
            self.worker_env(),
        )

    def reset(self) -> None:
        self.published = 0

    def enqueue_noops(self, count: int) -> None:
        with self.app.amqp.Producer(self.connection) as producer:
            for _ in range(count):
                self.app.send_task("bench.noop", queue=BENCH_QUEUE, producer=producer)
        self.published = getattr(self, "published", 0) + count

    def completed(self) -> tuple[int, float | None]:
        # With late acks a message leaves `unacked` only once its task returned.
        pending = self.broker.llen(BENCH_QUEUE) + self.broker.hlen("unacked")
        if pending == 0:
            return self.published, time.time()
        return max(0, self.published - pending), None

    def trigger_stamp(self, token: str) -> None:
        self.app.send_task(
            "bench.stamp", args=[token], queue=BENCH_QUEUE, connection=self.connection
        )


class CeleryResults(CeleryPlain):
    app_module = "bench.peers.celery_results"
    broker_system = "celery-results"
    settings_module = "bench.peers.results_settings"

    def __init__(self, target: Target, processes: Processes, database_url: str) -> None:
        super().__init__(target, processes)
        self.name = "Celery + django-celery-results"
        self.database_url = database_url
        migrate = subprocess.run(
            [sys.executable, "-m", "django", "migrate", "-v", "0"],
            env={**os.environ, **self.worker_env()},
            capture_output=True,
            text=True,
            check=False,
        )
        if migrate.returncode:
            raise RuntimeError(
                f"django-celery-results migrate failed:\n{migrate.stderr}"
            )

    def worker_env(self) -> dict[str, str]:
        return self.peer_env(
            BENCH_CELERY_BROKER_URL=self.target.broker_url(self.broker_system),
            BENCH_RESULTS_DATABASE_URL=self.database_url,
            DJANGO_SETTINGS_MODULE=self.settings_module,
        )

    def reset(self) -> None:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            conn.execute("TRUNCATE django_celery_results_taskresult")

    def completed(self) -> tuple[int, float | None]:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            count, last = conn.execute(
                # task_name is stored only with result_extended, which is off by default.
                "SELECT count(*), max(date_done) FROM django_celery_results_taskresult "
                "WHERE status = 'SUCCESS'"
            ).fetchone()
        return count, last.timestamp() if last else None


class Procrastinate(System):
    def __init__(self, target: Target, processes: Processes, database_url: str) -> None:
        super().__init__("Procrastinate", target, processes)
        self.database_url = database_url
        env = self.worker_env()
        os.environ["BENCH_PROCRASTINATE_DATABASE_URL"] = database_url
        schema = subprocess.run(
            [
                str(BIN / "procrastinate"),
                "--app",
                "bench.peers.procrastinate_app.app",
                "schema",
                "--apply",
            ],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            check=False,
        )
        if schema.returncode:
            raise RuntimeError(f"procrastinate schema failed:\n{schema.stderr}")
        from bench.peers import procrastinate_app

        self.module = procrastinate_app
        self.module.app.open()

    def worker_env(self) -> dict[str, str]:
        return self.peer_env(BENCH_PROCRASTINATE_DATABASE_URL=self.database_url)

    def spawn_worker(self) -> Process:
        return self.processes.spawn(
            "procrastinate",
            # Warnings only, like every other worker here (its default logs two lines a job).
            [
                str(BIN / "procrastinate"),
                "--log-level",
                "warning",
                "--app",
                "bench.peers.procrastinate_app.app",
                "worker",
                "--concurrency",
                str(WORKER_CONCURRENCY),
                "--queues",
                BENCH_QUEUE,
            ],
            self.worker_env(),
        )

    def reset(self) -> None:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            conn.execute("TRUNCATE procrastinate_jobs CASCADE")

    def enqueue_noops(self, count: int) -> None:
        for start in range(0, count, ENQUEUE_CHUNK):
            size = min(ENQUEUE_CHUNK, count - start)
            self.module.noop.batch_defer(*([{}] * size))

    def completed(self) -> tuple[int, float | None]:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            count = conn.execute(
                "SELECT count(*) FROM procrastinate_jobs WHERE status = 'succeeded' "
                "AND task_name = 'bench.noop'"
            ).fetchone()[0]
            last = conn.execute(
                "SELECT max(at) FROM procrastinate_events WHERE type = 'succeeded'"
            ).fetchone()[0]
        return count, last.timestamp() if last else None

    def trigger_stamp(self, token: str) -> None:
        self.module.stamp.defer(token=token)

    def close(self) -> None:
        self.module.app.close()
