"""Plain Celery on Redis: no result tracking at all."""

from __future__ import annotations

import os

from celery import Celery

from bench import stamps
from bench.peers import CELERY_DELIVERY

app = Celery(
    "bench_plain", broker=os.environ.get("BENCH_CELERY_BROKER_URL", "memory://")
)
app.conf.update(CELERY_DELIVERY, task_ignore_result=True)


@app.task(name="bench.noop")
def noop() -> None:
    return None


@app.task(name="bench.stamp")
def stamp(token: str) -> None:
    stamps.record(token)
