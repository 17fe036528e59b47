"""Profiles of the hot paths, in-process with pyinstrument: trigger and worker side.

Besides the call tree, each profile's time is split by where it was spent:
waiting on PostgreSQL (psycopg), Django's ORM, the API layer, the broker
client, Triggerkit's own code, and the rest.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.test import Client

CATEGORIES = (
    (
        "PostgreSQL round trips (psycopg)",
        ("/psycopg/", "/psycopg_binary/", "psycopg_c"),
    ),
    ("Django ORM and SQL compiler", ("/django/db/",)),
    ("API layer (ninja, pydantic)", ("/ninja/", "/pydantic/", "/pydantic_core/")),
    ("broker publish (kombu, celery, redis)", ("/kombu/", "/celery/", "/redis/")),
    ("JWT and hashing", ("/jwt/", "hmac.py", "hashlib")),
    ("Django request handling and other", ("/django/",)),
    ("Triggerkit code", ("/runs/", "/apikeys/", "/triggerkit/", "/bench/")),
)


def categorise(session) -> dict[str, float]:
    """Share of wall time by category, from the frames' self time.

    Built-ins and the standard library (socket waits, threading) count for the
    caller that reached them: psycopg's wait on the server is PostgreSQL time.
    """
    totals: dict[str, float] = {}

    def category_of(path: str) -> str | None:
        for label, marks in CATEGORIES:
            if any(mark in path for mark in marks):
                return label
        if "site-packages" in path:
            return "other libraries"
        return None

    def walk(frame, inherited: str) -> None:
        name = category_of(frame.file_path or "") or inherited
        totals[name] = totals.get(name, 0.0) + frame.total_self_time
        for child in frame.children:
            walk(child, name)

    root = session.root_frame()
    if root is None:
        return {}
    walk(root, "other (interpreter, stdlib)")
    whole = sum(totals.values()) or 1.0
    ranked = sorted(totals.items(), key=lambda item: -item[1])
    return {name: round(100 * seconds / whole, 1) for name, seconds in ranked}


def profile_trigger(environment, secret_key: str, count: int, out: Path) -> dict:
    from pyinstrument import Profiler

    client = Client()
    auth = {
        "HTTP_AUTHORIZATION": f"Bearer {secret_key}",
        "HTTP_X_TRIGGER_API_VERSION": "2025-07-16",
    }
    body = json.dumps({"payload": {"i": 1}})

    def trigger() -> None:
        client.post(
            "/api/v1/tasks/bench-noop/trigger",
            body,
            content_type="application/json",
            **auth,
        )

    trigger()
    profiler = Profiler(interval=0.0005)
    profiler.start()
    for _ in range(count):
        trigger()
    session = profiler.stop()
    return write(profiler, session, count, out)


def profile_batch(secret_key: str, count: int, out: Path) -> dict:
    """Batches of 1,000 items through the v3 batch endpoints, in-process."""
    from pyinstrument import Profiler

    client = Client()
    auth = {
        "HTTP_AUTHORIZATION": f"Bearer {secret_key}",
        "HTTP_X_TRIGGER_API_VERSION": "2025-07-16",
    }
    lines = "\n".join(
        json.dumps({"index": i, "task": "bench-noop", "payload": {"i": i}})
        for i in range(1000)
    )

    def batch() -> None:
        response = client.post(
            "/api/v3/batches",
            {"runCount": 1000},
            content_type="application/json",
            **auth,
        )
        if response.status_code >= 400:
            raise RuntimeError(
                f"creating a batch answered {response.status_code}: {response.content!r}"
            )
        created = response.json()
        client.post(
            f"/api/v3/batches/{created['id']}/items",
            lines,
            content_type="application/x-ndjson",
            **auth,
        )

    batch()
    profiler = Profiler(interval=0.001)
    profiler.start()
    for _ in range(count):
        batch()
    session = profiler.stop()
    return write(profiler, session, count, out)


def profile_worker(environment, count: int, out: Path) -> dict:
    from pyinstrument import Profiler

    from runs import engine, worker
    from runs.engine import TriggerSpec
    from runs.models import Run

    profiler = Profiler(interval=0.0005)
    done = 0
    while done < count:
        chunk = min(50, count - done)
        for _ in range(chunk):
            engine.trigger_run(environment, "bench-noop", TriggerSpec(payload="{}"))
        ids = list(
            Run.objects.filter(environment=environment, status="DEQUEUED").values_list(
                "pk", flat=True
            )
        )
        profiler.start()
        for run_id in ids:
            worker.execute(run_id)
        profiler.stop()
        done += len(ids) or chunk
    return write(profiler, profiler.last_session, count, out)


def write(profiler, session, count: int, out: Path) -> dict:
    text = profiler.output_text(unicode=False, color=False, show_all=False)
    out.write_text(text)
    return {
        "calls": count,
        "ms_per_call": round(1000 * session.duration / count, 2),
        "shares_percent": categorise(session),
        "file": out.name,
    }
