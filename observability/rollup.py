"""Run counters for /metrics, kept exact for every process without touching the engine.

Counting runs by status at each scrape would read the whole runs table. Instead
the totals live in RunCounter and grow incrementally, on the primary key:

* Runs newer than the horizon are counted live at each scrape (by a range scan
  of `runs_run_pkey`): the triggered ones, the finished ones by status, and the
  durations of the attempts of those that finished.
* `advance()` moves the horizon up to SETTLE_SECONDS ago: it adds the runs it
  passes to the totals, and remembers the unfinished ones in PendingRun, whose
  finish it adds later. Ids start with their creation time (runs.ids), so the
  runs it passes are exactly the ones the live count stops seeing.

Reading the totals and the live part in one REPEATABLE READ snapshot keeps the
sum monotonic while another process advances. Runs inserted by a transaction
that commits more than SETTLE_SECONDS after it created the run's id, which no
engine path does, would be missed.
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from observability.models import RollupState
from runs.ids import new_id
from runs.models import FINAL_STATUSES

SETTLE_SECONDS = 60
# Runs added to the totals per advance; the live count covers the rest meanwhile.
ADVANCE_BATCH_SIZE = 20_000
ADVANCE_LOCK_ID = 7302_0001
ATTEMPT_BUCKETS_SECONDS = (
    0.01,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
    60,
    300,
    900,
    3600,
    math.inf,
)
FINAL = sorted(FINAL_STATUSES)


@dataclass
class Histogram:
    buckets: list[float] = field(
        default_factory=lambda: [0.0] * len(ATTEMPT_BUCKETS_SECONDS)
    )
    total: float = 0.0
    count: float = 0.0

    def observe(self, seconds: float) -> None:
        # Buckets are stored per bucket, not cumulative; exposition adds them up.
        self.buckets[bisect.bisect_left(ATTEMPT_BUCKETS_SECONDS, seconds)] += 1
        self.total += seconds
        self.count += 1


@dataclass
class Totals:
    """Counts keyed by (environment id, task[, status])."""

    triggered: dict[tuple[int, str], float] = field(
        default_factory=lambda: defaultdict(float)
    )
    finished: dict[tuple[int, str, str], float] = field(
        default_factory=lambda: defaultdict(float)
    )
    attempts: dict[tuple[int, str, str], Histogram] = field(
        default_factory=lambda: defaultdict(Histogram)
    )


def id_at(moment: datetime) -> str:
    """The smallest run id created at this moment."""
    return new_id("run", int(moment.timestamp() * 1000))[:14] + "0" * 16


LIVE_RUNS_SQL = """
SELECT environment_id, task_identifier, status, count(*)
FROM runs_run WHERE id > %(horizon)s
GROUP BY 1, 2, 3
"""

LIVE_ATTEMPTS_SQL = """
SELECT run.environment_id, run.task_identifier, attempt.status,
       EXTRACT(EPOCH FROM attempt.finished_at - attempt.started_at)
FROM runs_run AS run JOIN runs_attempt AS attempt ON attempt.run_id = run.id
WHERE run.id > %(horizon)s AND run.status = ANY(%(final)s)
  AND attempt.finished_at IS NOT NULL
"""

COUNTERS_SQL = """
SELECT name, environment_id, task, status, bucket, value FROM observability_runcounter
"""


def read_totals() -> Totals:
    """The totals plus the live runs, from one snapshot."""
    totals = Totals()
    # Inside a caller's transaction (a test's, say) its snapshot rules instead.
    own_transaction = not connection.in_atomic_block
    with transaction.atomic(), connection.cursor() as cursor:
        if own_transaction:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        cursor.execute("SELECT horizon FROM observability_rollupstate WHERE id = 1")
        row = cursor.fetchone()
        if row is None:  # emptied by a test's flush; advance() starts it again
            return totals
        horizon = row[0]
        cursor.execute(COUNTERS_SQL)
        for name, env, task, status, bucket, value in cursor.fetchall():
            add_counter(totals, name, env, task, status, bucket, value)
        cursor.execute(LIVE_RUNS_SQL, {"horizon": horizon})
        for env, task, status, count in cursor.fetchall():
            totals.triggered[env, task] += count
            if status in FINAL_STATUSES:
                totals.finished[env, task, status] += count
        cursor.execute(LIVE_ATTEMPTS_SQL, {"horizon": horizon, "final": FINAL})
        for env, task, status, seconds in cursor.fetchall():
            totals.attempts[env, task, status].observe(max(0.0, float(seconds)))
    return totals


def add_counter(
    totals: Totals,
    name: str,
    env: int,
    task: str,
    status: str,
    bucket: float,
    value: float,
) -> None:
    if name == "triggered":
        totals.triggered[env, task] += value
    elif name == "finished":
        totals.finished[env, task, status] += value
    elif name == "attempt_bucket":
        index = ATTEMPT_BUCKETS_SECONDS.index(bucket)
        totals.attempts[env, task, status].buckets[index] += value
    elif name == "attempt_sum":
        totals.attempts[env, task, status].total += value
    elif name == "attempt_count":
        totals.attempts[env, task, status].count += value


PASSED_SQL = """
SELECT id, environment_id, task_identifier, status FROM runs_run
WHERE id > %(horizon)s AND id < %(target)s
ORDER BY id LIMIT %(limit)s
"""

FINISHED_PENDING_SQL = """
SELECT pending.run_id, run.environment_id, run.task_identifier, run.status
FROM observability_pendingrun AS pending
LEFT JOIN runs_run AS run ON run.id = pending.run_id
WHERE run.id IS NULL OR run.status = ANY(%(final)s)
"""

ATTEMPTS_OF_SQL = """
SELECT run.environment_id, run.task_identifier, attempt.status,
       EXTRACT(EPOCH FROM attempt.finished_at - attempt.started_at)
FROM runs_attempt AS attempt JOIN runs_run AS run ON run.id = attempt.run_id
WHERE attempt.run_id = ANY(%(ids)s) AND attempt.finished_at IS NOT NULL
"""

UPSERT_SQL = """
INSERT INTO observability_runcounter (name, environment_id, task, status, bucket, value)
SELECT * FROM unnest(%(names)s::text[], %(envs)s::bigint[], %(tasks)s::text[],
                     %(statuses)s::text[], %(buckets)s::float8[], %(values)s::float8[])
ON CONFLICT (name, environment_id, task, status, bucket)
DO UPDATE SET value = observability_runcounter.value + EXCLUDED.value
"""


def advance(now: datetime | None = None) -> bool:
    """Add settled runs and newly finished pending runs to the totals.

    Returns False when another process is advancing at the same moment.
    """
    now = now or timezone.now()
    target = id_at(now - timedelta(seconds=SETTLE_SECONDS))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [ADVANCE_LOCK_ID])
        if not cursor.fetchone()[0]:
            return False
        state, _ = RollupState.objects.get_or_create(
            pk=1, defaults={"horizon": id_at(now), "advanced_at": now}
        )

        cursor.execute(
            PASSED_SQL,
            {"horizon": state.horizon, "target": target, "limit": ADVANCE_BATCH_SIZE},
        )
        passed = cursor.fetchall()
        totals = Totals()
        finished_ids = []
        for run_id, env, task, status in passed:
            totals.triggered[env, task] += 1
            if status in FINAL_STATUSES:
                totals.finished[env, task, status] += 1
                finished_ids.append(run_id)
        pending = [row[0] for row in passed if row[3] not in FINAL_STATUSES]

        cursor.execute(FINISHED_PENDING_SQL, {"final": FINAL})
        done = cursor.fetchall()
        for run_id, env, task, status in done:
            if env is not None:
                totals.finished[env, task, status] += 1
                finished_ids.append(run_id)
        add_attempts(cursor, totals, finished_ids)
        store(cursor, totals)

        cursor.execute(
            "DELETE FROM observability_pendingrun WHERE run_id = ANY(%s)",
            [[r[0] for r in done]],
        )
        cursor.execute(
            "INSERT INTO observability_pendingrun (run_id) SELECT unnest(%s::text[])"
            " ON CONFLICT DO NOTHING",
            [pending],
        )
        if len(passed) == ADVANCE_BATCH_SIZE:
            horizon = passed[-1][0]  # more to pass: go on from here next time
        else:
            horizon = max(state.horizon, target)
        RollupState.objects.filter(pk=1).update(horizon=horizon, advanced_at=now)
    return True


def add_attempts(cursor, totals: Totals, run_ids: list[str]) -> None:
    if not run_ids:
        return
    cursor.execute(ATTEMPTS_OF_SQL, {"ids": run_ids})
    for env, task, status, seconds in cursor.fetchall():
        totals.attempts[env, task, status].observe(max(0.0, float(seconds)))


def store(cursor, totals: Totals) -> None:
    rows: list[tuple[str, int, str, str, float, float]] = []
    rows += [
        ("triggered", env, task, "", 0.0, n)
        for (env, task), n in totals.triggered.items()
    ]
    rows += [("finished", *key, 0.0, n) for key, n in totals.finished.items()]
    for key, histogram in totals.attempts.items():
        rows += [
            ("attempt_bucket", *key, bound, n)
            for bound, n in zip(ATTEMPT_BUCKETS_SECONDS, histogram.buckets)
            if n
        ]
        rows.append(("attempt_sum", *key, 0.0, histogram.total))
        rows.append(("attempt_count", *key, 0.0, histogram.count))
    if not rows:
        return
    columns = list(zip(*rows))
    cursor.execute(
        UPSERT_SQL,
        {
            "names": list(columns[0]),
            "envs": list(columns[1]),
            "tasks": list(columns[2]),
            "statuses": list(columns[3]),
            # psycopg refuses lists mixing int and float.
            "buckets": [float(bucket) for bucket in columns[4]],
            "values": [float(value) for value in columns[5]],
        },
    )
