"""Procrastinate: jobs in PostgreSQL, fetched by an asyncio worker."""

from __future__ import annotations

import os

from procrastinate import App, PsycopgConnector

from bench import stamps
from bench.peers import BENCH_QUEUE

app = App(
    connector=PsycopgConnector(
        conninfo=os.environ.get(
            "BENCH_PROCRASTINATE_DATABASE_URL", "postgres:///bench_procrastinate"
        )
    )
)


@app.task(name="bench.noop", queue=BENCH_QUEUE)
def noop() -> None:
    return None


@app.task(name="bench.stamp", queue=BENCH_QUEUE)
def stamp(token: str) -> None:
    stamps.record(token)
