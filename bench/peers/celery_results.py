"""Celery with django-celery-results: every task's state and result in PostgreSQL."""

from __future__ import annotations

import os

import django
from celery import Celery

from bench import stamps
from bench.peers import CELERY_DELIVERY

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.peers.results_settings")
django.setup()

app = Celery(
    "bench_results", broker=os.environ.get("BENCH_CELERY_BROKER_URL", "memory://")
)
app.conf.update(CELERY_DELIVERY, result_backend="django-db", task_ignore_result=False)


@app.task(name="bench.noop")
def noop() -> None:
    return None


@app.task(name="bench.stamp")
def stamp(token: str) -> None:
    stamps.record(token)
