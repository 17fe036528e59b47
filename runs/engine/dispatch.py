"""The dispatcher: the only code that moves runs from QUEUED to DEQUEUED.

A pass holds a per-environment advisory lock, so the slot counts it reads stay
true until it commits. It walks the lanes that have queued runs (a lane is a
queue, or one concurrencyKey of a queue), gives each lane as many runs as it
has free slots, shares the environment's free slots round-robin across lanes
so that no lane starves another, and publishes one message per picked run
after commit.

Nobody waits for the lock: a caller that finds it taken leaves a
DispatchRequest row instead, which the pass holding the lock looks for once it
has committed, and then passes again.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from runs import publish, sql

logger = logging.getLogger(__name__)

# A lane: a queue id and one of its concurrency keys ("" without keys).
Lane = tuple[int, str]

# First key of the advisory lock; the second is the environment id.
DISPATCH_LOCK_CLASS = 7301
# Passes one call makes at most while requests keep arriving; beyond, the requests
# left wait for the next pass (beat's tick at the latest), and the caller returns.
MAX_PASSES_PER_CALL = 5

# Takes the environment's lock for this transaction or, when another pass holds
# it, leaves that pass a request (committed with this transaction).
LOCK_SQL = """
WITH lock AS (
    SELECT pg_try_advisory_xact_lock(%(lock_class)s, %(env)s) AS taken
), request AS (
    INSERT INTO runs_dispatchrequest (environment_id)
    SELECT %(env)s FROM lock WHERE NOT lock.taken
)
SELECT taken FROM lock
"""

# Clears the requests left so far (this pass reads the state after them, so it
# serves them), and reads the environment's limit beside the runs each busy lane
# holds: one row per busy lane, or one row of NULLs.
SLOTS_SQL = """
WITH served AS (
    DELETE FROM runs_dispatchrequest WHERE environment_id = %(env)s
), busy AS (
    SELECT queue_id, concurrency_key, count(*) AS runs
    FROM runs_run
    WHERE environment_id = %(env)s AND status IN ('DEQUEUED', 'EXECUTING')
    GROUP BY queue_id, concurrency_key
)
SELECT env.concurrency_limit, busy.queue_id, busy.concurrency_key, busy.runs
FROM apikeys_environment AS env LEFT JOIN busy ON true
WHERE env.id = %(env)s
"""

HAS_REQUESTS_SQL = (
    "SELECT EXISTS (SELECT FROM runs_dispatchrequest WHERE environment_id = %s)"
)

# A loose index scan over run_dispatch: one probe per distinct lane.
LANES_SQL = """
WITH RECURSIVE lane AS (
    (SELECT queue_id, concurrency_key FROM runs_run
     WHERE environment_id = %(env)s AND status = 'QUEUED'
     ORDER BY queue_id, concurrency_key LIMIT 1)
    UNION ALL
    SELECT next.queue_id, next.concurrency_key FROM lane, LATERAL (
        SELECT queue_id, concurrency_key FROM runs_run
        WHERE environment_id = %(env)s AND status = 'QUEUED'
          AND (queue_id, concurrency_key) > (lane.queue_id, lane.concurrency_key)
        ORDER BY queue_id, concurrency_key LIMIT 1
    ) AS next
)
SELECT lane.queue_id, lane.concurrency_key, queue.concurrency_limit
FROM lane JOIN runs_queue AS queue ON queue.id = lane.queue_id
WHERE NOT queue.paused
"""

# Locks each lane's oldest runs (as many as the lane may start), then dequeues the
# first `slots` of them taken round-robin: every lane's oldest, then every lane's
# second, and so on. Only the picked runs are sorted, never the backlog.
DEQUEUE_SQL = """
WITH picked AS MATERIALIZED (
    SELECT oldest.id, oldest.queue_timestamp, lane.position
    FROM unnest(%(queues)s::bigint[], %(keys)s::text[], %(wanted)s::int[])
        WITH ORDINALITY AS lane(queue_id, concurrency_key, wanted, position),
    LATERAL (
        SELECT id, queue_timestamp FROM runs_run
        WHERE environment_id = %(env)s AND status = 'QUEUED'
          AND queue_id = lane.queue_id AND concurrency_key = lane.concurrency_key
        ORDER BY queue_timestamp
        LIMIT lane.wanted
        FOR UPDATE SKIP LOCKED
    ) AS oldest
), turns AS (
    SELECT id, position,
        row_number() OVER (PARTITION BY position ORDER BY queue_timestamp) AS turn
    FROM picked
)
UPDATE runs_run
SET status = 'DEQUEUED', dequeued_at = %(now)s, updated_at = %(now)s,
    ttl_expires_at = NULL
WHERE status = 'QUEUED' AND id = ANY (ARRAY (
    SELECT id FROM turns ORDER BY turn, position LIMIT %(slots)s
))
RETURNING id, max_duration_seconds
"""


def request_dispatch(environment_id: int) -> None:
    """Dispatch the environment once the current transaction commits.

    The caller's rows are committed by then: a pass that fails (the database went
    away) is logged and left to beat's tick, and never fails the caller, so that a
    trigger that was committed is also acknowledged.
    """
    transaction.on_commit(lambda: dispatch(environment_id), robust=True)


def dispatch(environment_id: int) -> list[str]:
    """Give free slots to queued runs of one environment; return the picked ids.

    When another pass holds the lock, leave it a request and return at once.
    """
    picked: list[str] = []
    for _ in range(MAX_PASSES_PER_CALL):
        ids = dispatch_pass(environment_id)
        if ids is None:
            # Its holder finds the request this call left, unless it let the lock go
            # before the request was committed: then pass again.
            if lock_is_taken(environment_id):
                break
            continue
        picked += ids
        if not has_requests(environment_id):
            break
    return picked


def dispatch_pass(environment_id: int) -> list[str] | None:
    """One pass under the environment's lock; None if another pass holds it."""
    with transaction.atomic(), sql.prepared_cursor() as cursor:
        cursor.execute(LOCK_SQL, {"lock_class": DISPATCH_LOCK_CLASS, "env": environment_id})
        if not cursor.fetchone()[0]:
            return None
        env_free, busy = free_slots(cursor, environment_id)
        if env_free <= 0:
            return []
        wanted = wanted_runs(cursor, environment_id, busy, env_free)
        if not wanted:
            return []
        picked = dequeue(cursor, environment_id, wanted, env_free)
        transaction.on_commit(lambda: publish.execute_runs(picked))

    if picked:
        logger.debug("dispatched %d runs", len(picked), extra={"action": "dispatched"})
    return [run_id for run_id, _ in picked]


def free_slots(cursor, environment_id: int) -> tuple[int, dict[Lane, int]]:
    """The environment's free slots, and the runs each busy lane holds."""
    cursor.execute(SLOTS_SQL, {"env": environment_id})
    rows = cursor.fetchall()
    if not rows:
        return 0, {}
    busy = {(queue, key): runs for _, queue, key, runs in rows if queue is not None}
    return rows[0][0] - sum(busy.values()), busy


def wanted_runs(
    cursor, environment_id: int, busy: dict[Lane, int], env_free: int
) -> dict[Lane, int]:
    """How many runs each lane with queued runs may start now."""
    cursor.execute(LANES_SQL, {"env": environment_id})
    wanted = {
        (queue, key): lane_free(limit, busy.get((queue, key), 0), env_free)
        for queue, key, limit in cursor.fetchall()
    }
    return {lane: runs for lane, runs in wanted.items() if runs > 0}


def dequeue(
    cursor, environment_id: int, wanted: dict[Lane, int], slots: int
) -> list[tuple[str, int | None]]:
    lanes = list(wanted)
    cursor.execute(
        DEQUEUE_SQL,
        {
            "env": environment_id,
            "queues": [queue for queue, _ in lanes],
            "keys": [key for _, key in lanes],
            "wanted": [wanted[lane] for lane in lanes],
            "slots": slots,
            "now": timezone.now(),
        },
    )
    return cursor.fetchall()


def lane_free(limit: int | None, busy: int, env_free: int) -> int:
    if limit is None:
        return env_free
    return max(0, min(limit - busy, env_free))


def lock_is_taken(environment_id: int) -> bool:
    """Whether a pass holds the lock now (taking a free one only for this statement)."""
    with sql.prepared_cursor() as cursor:
        cursor.execute(
            "SELECT NOT pg_try_advisory_xact_lock(%s, %s)",
            [DISPATCH_LOCK_CLASS, environment_id],
        )
        return cursor.fetchone()[0]


def has_requests(environment_id: int) -> bool:
    # Plain SQL: it runs after every pass, and the ORM would compile it each time.
    with sql.prepared_cursor() as cursor:
        cursor.execute(HAS_REQUESTS_SQL, [environment_id])
        return cursor.fetchone()[0]
