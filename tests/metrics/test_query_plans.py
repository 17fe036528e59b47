"""The scrape-time queries read indexes, never the whole runs table.

With sequential scans priced out, a plan that still scans runs_run sequentially
has no index to use: such a query would read every run at each scrape.
"""

import pytest
from django.db import connection

from observability import metrics, rollup

QUERIES = {
    "queued per queue": (metrics.QUEUED_SQL, {}),
    "executing per queue": (metrics.EXECUTING_SQL, {}),
    "unfinished per status": (
        metrics.UNFINISHED_SQL,
        {"environments": [1, 2], "statuses": list(metrics.UNFINISHED_STATUSES)},
    ),
    "live runs": (rollup.LIVE_RUNS_SQL, {"horizon": "run_0"}),
    "live attempts": (
        rollup.LIVE_ATTEMPTS_SQL,
        {"horizon": "run_0", "final": rollup.FINAL},
    ),
    "runs passing the horizon": (
        rollup.PASSED_SQL,
        {"horizon": "run_0", "target": "run_1", "limit": 100},
    ),
    "pending runs that finished": (
        rollup.FINISHED_PENDING_SQL,
        {"final": rollup.FINAL},
    ),
    "attempts of finished runs": (rollup.ATTEMPTS_OF_SQL, {"ids": ["run_a", "run_b"]}),
}


@pytest.mark.django_db
@pytest.mark.parametrize("name", QUERIES)
def test_scrape_query_uses_an_index_on_runs(name):
    sql, params = QUERIES[name]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "Seq Scan on runs_run" not in plan, plan
    assert "Seq Scan on runs_attempt" not in plan, plan
