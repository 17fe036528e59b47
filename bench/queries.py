"""Queries per run for each state change, counted in-process around engine calls.

Each figure is the number of statements Django logs, each a round trip to
PostgreSQL: BEGIN, COMMIT and savepoints included. The engine calls run exactly as in production; the dispatch pass
an engine call requests runs on commit, at the end of the captured list, and
is reported apart from the call (it starts with the advisory lock).
"""

from __future__ import annotations

import json
import re

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

SQL_PREVIEW_CHARS = 150
SAVEPOINT = re.compile(
    r"^(SAVEPOINT|RELEASE SAVEPOINT|ROLLBACK TO SAVEPOINT)", re.IGNORECASE
)
DISPATCH_MARK = "advisory_xact_lock"
API_HEADERS = {"HTTP_X_TRIGGER_API_VERSION": "2025-07-16"}
TRIGGER_REQUEST = "trigger request (HTTP API, all of it)"
WORKER_RUN = "worker.execute of a no-op run (all of it)"


def describe(statements: list[str]) -> dict:
    return {
        "statements": len(statements),
        "savepoints": sum(1 for sql in statements if SAVEPOINT.match(sql)),
        "sql": [" ".join(sql.split())[:SQL_PREVIEW_CHARS] for sql in statements],
    }


def split_dispatch(captured: CaptureQueriesContext) -> tuple[list[str], list[str]]:
    """The call's own statements, and those of the dispatch pass that followed it."""
    statements = [query["sql"] for query in captured.captured_queries]
    for index, sql in enumerate(statements):
        if DISPATCH_MARK in sql:
            if index and statements[index - 1] == "BEGIN":
                index -= 1
            return statements[:index], statements[index:]
    return statements, []


def record(
    counts: dict, name: str, captured: CaptureQueriesContext, dispatch_name: str = ""
) -> None:
    own, dispatch = (
        split_dispatch(captured)
        if dispatch_name
        else ([query["sql"] for query in captured.captured_queries], [])
    )
    counts[name] = describe(own)
    if dispatch_name:
        counts[dispatch_name] = describe(dispatch)


def count_queries(environment, secret_key: str) -> dict:
    """Statements per state change of one no-op run, and of a 1,000-item batch."""
    from runs import engine, worker
    from runs.engine import TriggerSpec

    counts: dict[str, dict] = {}
    client = Client()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {secret_key}", **API_HEADERS}

    def trigger_over_api() -> str:
        response = client.post(
            "/api/v1/tasks/bench-noop/trigger",
            {"payload": {}},
            content_type="application/json",
            **auth,
        )
        return json.loads(response.content)["id"]

    # Warm what is cached per process, so first-call work is not counted.
    worker.execute(trigger_over_api())

    with CaptureQueriesContext(connection) as captured:
        api_run_id = trigger_over_api()
    record(counts, TRIGGER_REQUEST, captured)

    with CaptureQueriesContext(connection) as captured:
        run = engine.trigger_run(
            environment, "bench-noop", TriggerSpec(payload="{}")
        ).run
    record(
        counts,
        "trigger_run (engine: QUEUED)",
        captured,
        "dispatch pass after a trigger (QUEUED → DEQUEUED)",
    )

    with CaptureQueriesContext(connection) as captured:
        engine.dispatch(environment.pk)
    record(counts, "dispatch pass with nothing to pick", captured)

    with CaptureQueriesContext(connection) as captured:
        started = engine.start_attempt(run.pk, "bench")
    record(counts, "start_attempt (DEQUEUED → EXECUTING)", captured)

    with CaptureQueriesContext(connection) as captured:
        engine.complete_attempt(started.attempt, "null", "application/json", [])
    record(
        counts,
        "complete_attempt (EXECUTING → COMPLETED)",
        captured,
        "dispatch pass after a completion",
    )

    with CaptureQueriesContext(connection) as captured:
        worker.execute(api_run_id)
    record(counts, WORKER_RUN, captured)

    lines = "\n".join(
        json.dumps({"index": i, "task": "bench-noop", "payload": {}})
        for i in range(1000)
    )
    response = client.post(
        "/api/v3/batches", {"runCount": 1000}, content_type="application/json", **auth
    )
    batch_id = json.loads(response.content)["id"]
    with CaptureQueriesContext(connection) as captured:
        client.post(
            f"/api/v3/batches/{batch_id}/items",
            lines,
            content_type="application/x-ndjson",
            **auth,
        )
    record(counts, "batch items request, 1,000 runs (HTTP API, all of it)", captured)
    return counts


def per_run_total(counts: dict) -> int:
    """Trigger to completion for one run: the API trigger and the worker's side."""
    return counts[TRIGGER_REQUEST]["statements"] + counts[WORKER_RUN]["statements"]


# Index write cost ------------------------------------------------------------------


def redundant_indexes(cursor) -> list[dict]:
    """Indexes of runs_run another index makes useless, each with the reason."""
    cursor.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'runs_run' "
        "AND schemaname = current_schema()"
    )
    indexes = {name: definition for name, definition in cursor.fetchall()}
    parsed = {name: parse_index(definition) for name, definition in indexes.items()}
    found = []
    for name, (method, columns, predicate, unique, opclass) in parsed.items():
        if unique:
            continue
        if opclass:
            found.append(
                {
                    "index": name,
                    "reason": "varchar_pattern_ops copy for LIKE 'x%'; "
                    "no query filters these ids by prefix",
                    "definition": indexes[name],
                }
            )
            continue
        # Unique indexes first: they stay, so they are the best cover to name.
        others = sorted(parsed.items(), key=lambda item: (not item[1][3], item[0]))
        for other, (o_method, o_columns, o_predicate, _, o_opclass) in others:
            if other == name or method != "btree" or o_method != "btree" or o_opclass:
                continue
            covers = o_columns[: len(columns)] == columns
            usable = o_predicate is None or o_predicate == f"({columns[0]} IS NOT NULL)"
            longer_or_first = len(o_columns) > len(columns) or (
                o_columns == columns and (o_predicate is not None or other < name)
            )
            if predicate is None and covers and usable and longer_or_first:
                found.append(
                    {
                        "index": name,
                        "reason": f"its columns lead {other}",
                        "definition": indexes[name],
                    }
                )
                break
    return found


def parse_index(definition: str) -> tuple[str, list[str], str | None, bool, bool]:
    match = re.match(
        r"CREATE (UNIQUE )?INDEX \S+ ON \S+ USING (\w+) \((.*?)\)( WHERE (.*))?$",
        definition,
    )
    if match is None:
        return "unknown", [], None, True, False
    unique, method, columns, _, predicate = match.groups()
    names = [part.strip().split()[0] for part in columns.split(",")]
    opclass = "pattern_ops" in columns
    return method, names, predicate, bool(unique), opclass


def index_write_cost(environment, rows: int) -> dict:
    """Single-row inserts into two copies of runs_run: every index, and without the redundant.

    Inserts alternate between the copies, so drift in the machine's load hits
    both alike; index bytes per row are reported too, as they do not depend on
    load at all.
    """
    import statistics
    import time

    from runs.engine import TriggerSpec, trigger_run
    from runs.models import Run

    run = trigger_run(environment, "bench-noop", TriggerSpec(payload="{}")).run
    template = Run.objects.filter(pk=run.pk).values().first()
    with connection.cursor() as cursor:
        redundant = redundant_indexes(cursor)
        cursor.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'runs_run' "
            "AND table_schema = current_schema() AND is_generated = 'NEVER'"
        )
        writable = {row[0] for row in cursor.fetchall()}
        columns = [name for name in template if name in writable]
        for table in COPIES:
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
            cursor.execute(f"CREATE TABLE {table} (LIKE runs_run INCLUDING ALL)")
        for name in copy_index_names(
            cursor, "bench_run_lean", [i["definition"] for i in redundant]
        ):
            cursor.execute(f'DROP INDEX "{name}"')

        timings: dict[str, list[float]] = {table: [] for table in COPIES}
        for number in range(rows):
            for table in COPIES:
                values = [
                    adapt({**template, "id": f"c{number:09d}"}[name])
                    for name in columns
                ]
                started = time.perf_counter()
                cursor.execute(
                    f"INSERT INTO {table} ({', '.join(columns)}) "
                    f"VALUES ({', '.join(['%s'] * len(columns))})",
                    values,
                )
                timings[table].append(time.perf_counter() - started)
        shape = {}
        for table in COPIES:
            cursor.execute(
                "SELECT count(*), pg_indexes_size(%s::regclass) FROM pg_indexes WHERE tablename = %s",
                [table, table],
            )
            count, size = cursor.fetchone()
            shape[table] = {
                "indexes": count,
                "insert_ms_median": round(statistics.median(timings[table]) * 1000, 3),
                "index_bytes_per_row": round(size / rows),
            }
            cursor.execute(f"DROP TABLE {table}")
    return {
        "rows": rows,
        "redundant": redundant,
        "all": shape["bench_run_all"],
        "lean": shape["bench_run_lean"],
    }


COPIES = ("bench_run_all", "bench_run_lean")


def copy_index_names(cursor, table: str, definitions: list[str]) -> list[str]:
    """One index of the copy per given runs_run definition (same method, columns, predicate)."""
    cursor.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", [table]
    )
    available = [
        (name, definition.split(" USING ", 1)[1])
        for name, definition in cursor.fetchall()
    ]
    names = []
    for definition in definitions:
        shape = definition.split(" USING ", 1)[1]
        for item in available:
            if item[1] == shape:
                names.append(item[0])
                available.remove(item)
                break
    return names


def adapt(value):
    from psycopg.types.json import Jsonb

    if isinstance(value, dict):
        return Jsonb(value)
    return value
