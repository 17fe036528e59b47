"""The hot queries plan as index scans over a large backlog (plans, never timings).

With 300,000 queued runs (and some history) in one environment, EXPLAIN of the
dispatcher's lane walk and pick, of the claim in start_attempt, of the end of
an attempt in complete_attempt and of the API runs list must show index scans, and no Seq Scan or Sort over runs_run: a
query that sorts or scans the backlog gets slower with every queued run
(ARCHITECTURE.md, "Performance budget"). The rows are inserted with
generate_series inside a transaction that is rolled back at the end.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bench import seed
from tests.conftest import create_test_project

# The module, not the function runs.engine re-exports under the same name.
dispatcher = importlib.import_module("runs.engine.dispatch")
QUEUED_RUNS = 300_000
HISTORY_RUNS = 30_000
LANE_QUEUES = 4
RUNS_TABLE = "runs_run"


@dataclass
class Backlog:
    environment: object
    secret_key: str
    queue_ids: list[int]


@pytest.fixture(scope="module")
def backlog(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            yield fill_backlog()
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


def fill_backlog() -> Backlog:
    from runs.models import Queue

    keys = create_test_project()
    environment = keys.environments["PRODUCTION"]
    queues = [
        Queue.objects.create(environment=environment, name=f"plans-{n}").pk
        for n in range(LANE_QUEUES)
    ]
    with connection.cursor() as cursor:
        seed.insert_runs(
            cursor, environment.pk, queues, QUEUED_RUNS, seed.QUEUED_BACKLOG, salt="q"
        )
        seed.insert_runs(cursor, environment.pk, queues, HISTORY_RUNS, salt="h")
    return Backlog(environment, keys.prod, queues)


def explain(sql: str, params=None) -> dict:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        document = cursor.fetchone()[0]
    if isinstance(document, str):
        document = json.loads(document)
    return document[0]["Plan"]


def nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


def touches_runs(plan: dict) -> bool:
    return any(node.get("Relation Name") == RUNS_TABLE for node in nodes(plan))


def problems(plan: dict) -> list[str]:
    """Seq Scans of runs_run, Sorts over runs_run rows, and a missing index scan."""
    found = []
    for node in nodes(plan):
        kind = node["Node Type"]
        if kind == "Seq Scan" and node.get("Relation Name") == RUNS_TABLE:
            found.append("Seq Scan on runs_run")
        if kind in ("Sort", "Incremental Sort") and touches_runs(node):
            found.append(f"{kind} over runs_run (key {node.get('Sort Key')})")
    indexed = [
        node
        for node in nodes(plan)
        if node["Node Type"] in ("Index Scan", "Index Only Scan", "Bitmap Index Scan")
        and (
            node.get("Relation Name") == RUNS_TABLE
            or node.get("Index Name", "").startswith("run")
        )
    ]
    if not indexed:
        found.append("no index scan on runs_run")
    return found


def assert_indexed(sql: str, params=None) -> None:
    plan = explain(sql, params)
    assert problems(plan) == [], (
        f"{problems(plan)} in the plan of:\n{sql}\n{json.dumps(plan, indent=1)}"
    )


def lanes(backlog: Backlog) -> list[tuple[int, str]]:
    keys = [f"key-{n}" for n in range(seed.QUEUED_BACKLOG.concurrency_keys)]
    return [(queue, key) for queue in backlog.queue_ids for key in keys]


def test_dispatcher_walks_lanes_through_the_dispatch_index(backlog):
    assert_indexed(dispatcher.LANES_SQL, {"env": backlog.environment.pk})


def test_dispatcher_dequeues_the_oldest_of_each_lane_without_sorting(backlog):
    walk = lanes(backlog)
    plan = explain(
        dispatcher.DEQUEUE_SQL,
        {
            "env": backlog.environment.pk,
            "queues": [queue for queue, _ in walk],
            "keys": [key for _, key in walk],
            "wanted": [5] * len(walk),
            "slots": 100,
            "now": timezone.now(),
        },
    )

    assert problems(plan) == [], json.dumps(plan, indent=1)
    # The dequeued runs are found by their ids, not among the whole backlog.
    found_by = plan["Plans"][-1].get("Index Name")
    assert found_by == "runs_run_pkey", json.dumps(plan, indent=1)


def test_dispatcher_counts_busy_slots_without_scanning_the_table(backlog):
    plan = explain(dispatcher.SLOTS_SQL, {"env": backlog.environment.pk})
    assert not [
        n
        for n in nodes(plan)
        if n["Node Type"] == "Seq Scan" and n.get("Relation Name") == RUNS_TABLE
    ]


def test_claim_updates_one_run_through_the_primary_key(backlog):
    from runs import engine
    from runs.models import Run

    picked = engine.dispatch(backlog.environment.pk)
    assert picked
    with CaptureQueriesContext(connection) as captured:
        assert engine.start_attempt(picked[0], "plans") is not None
    claims = [
        query["sql"]
        for query in captured.captured_queries
        if f"UPDATE {RUNS_TABLE}" in query["sql"]
    ]
    assert claims, "start_attempt sent no UPDATE of runs_run"
    assert_indexed(claims[0])
    assert Run.objects.get(pk=picked[0]).status == "EXECUTING"


def test_completion_counts_the_dequeued_backlog_through_an_index(backlog):
    from runs import engine
    from runs.models import Run

    engine.dispatch(backlog.environment.pk)
    dequeued = Run.objects.filter(environment=backlog.environment, status="DEQUEUED")
    run_id = dequeued.values_list("pk", flat=True).first()
    started = engine.start_attempt(run_id, "plans")
    with CaptureQueriesContext(connection) as captured:
        assert engine.complete_attempt(started.attempt, "null", "application/json", [])
    ends = [
        query["sql"]
        for query in captured.captured_queries
        if f"UPDATE {RUNS_TABLE}" in query["sql"]
    ]
    assert ends, "complete_attempt sent no UPDATE of runs_run"
    assert_indexed(ends[0])
    assert Run.objects.get(pk=run_id).status == "COMPLETED"


LIST_FILTERS = {
    "no filter": {},
    "status QUEUED": {"filter[status]": "QUEUED"},
    "status COMPLETED": {"filter[status]": "COMPLETED"},
    "task": {"filter[taskIdentifier]": "task-3"},
    "status and task": {"filter[status]": "FAILED", "filter[taskIdentifier]": "task-7"},
}


@pytest.mark.parametrize("params", LIST_FILTERS.values(), ids=LIST_FILTERS.keys())
@pytest.mark.parametrize("page", ["first", "later"])
def test_api_runs_list_pages_through_an_index(backlog, params, page):
    client = Client()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {backlog.secret_key}"}
    query = dict(params)
    if page == "later":
        first = client.get("/api/v1/runs", query, **auth).json()
        query["page[after]"] = first["pagination"]["next"]

    with CaptureQueriesContext(connection) as captured:
        response = client.get("/api/v1/runs", query, **auth)

    assert response.status_code == 200
    selects = [
        query["sql"]
        for query in captured.captured_queries
        if query["sql"].startswith("SELECT") and f'FROM "{RUNS_TABLE}"' in query["sql"]
    ]
    assert selects, "the list sent no SELECT from runs_run"
    for sql in selects:
        assert_indexed(sql)
