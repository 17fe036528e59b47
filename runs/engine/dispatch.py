"""The dispatcher: the only code that moves runs from QUEUED to DEQUEUED.

A pass holds a per-environment advisory lock, so the slot counts it reads stay
true until it commits. It walks the lanes that have queued runs (a lane is a
queue, or one concurrencyKey of a queue), gives each lane as many runs as it
has free slots, shares the environment's free slots round-robin across lanes
so that no lane starves another, and publishes one message per picked run
after commit.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from itertools import zip_longest

from django.db import connection, transaction
from django.utils import timezone

from runs import publish

logger = logging.getLogger(__name__)

# First key of the advisory lock; the second is the environment id.
DISPATCH_LOCK_CLASS = 7301

BUSY_SQL = """
SELECT queue_id, concurrency_key, count(*)
FROM runs_run
WHERE environment_id = %s AND status IN ('DEQUEUED', 'EXECUTING')
GROUP BY queue_id, concurrency_key
"""

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

PICK_SQL = """
SELECT picked.id, lane.queue_id, lane.concurrency_key
FROM unnest(%(queues)s::bigint[], %(keys)s::text[], %(wanted)s::int[])
    AS lane(queue_id, concurrency_key, wanted),
LATERAL (
    SELECT id FROM runs_run
    WHERE environment_id = %(env)s AND status = 'QUEUED'
      AND queue_id = lane.queue_id AND concurrency_key = lane.concurrency_key
    ORDER BY queue_timestamp
    LIMIT lane.wanted
    FOR UPDATE SKIP LOCKED
) AS picked
"""

DEQUEUE_SQL = """
UPDATE runs_run
SET status = 'DEQUEUED', dequeued_at = %(now)s, updated_at = %(now)s,
    ttl_expires_at = NULL
WHERE id = ANY(%(ids)s) AND status = 'QUEUED'
RETURNING id, max_duration_seconds
"""


@dataclass(frozen=True)
class Lane:
    queue_id: int
    concurrency_key: str


def request_dispatch(environment_id: int) -> None:
    """Dispatch the environment once the current transaction commits."""
    transaction.on_commit(lambda: dispatch(environment_id))


def dispatch(environment_id: int) -> list[str]:
    """Give free slots to queued runs of one environment; return the picked ids."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, %s)", [DISPATCH_LOCK_CLASS, environment_id]
        )
        cursor.execute(
            "SELECT concurrency_limit FROM apikeys_environment WHERE id = %s",
            [environment_id],
        )
        row = cursor.fetchone()
        if row is None:
            return []
        cursor.execute(BUSY_SQL, [environment_id])
        busy = {Lane(q, k): n for q, k, n in cursor.fetchall()}
        env_free = row[0] - sum(busy.values())
        if env_free <= 0:
            return []

        cursor.execute(LANES_SQL, {"env": environment_id})
        wanted = {
            Lane(q, k): lane_free(Lane(q, k), limit, busy, env_free)
            for q, k, limit in cursor.fetchall()
        }
        wanted = {lane: n for lane, n in wanted.items() if n > 0}
        if not wanted:
            return []

        lanes = list(wanted)
        cursor.execute(
            PICK_SQL,
            {
                "env": environment_id,
                "queues": [lane.queue_id for lane in lanes],
                "keys": [lane.concurrency_key for lane in lanes],
                "wanted": [wanted[lane] for lane in lanes],
            },
        )
        ids = share_round_robin(cursor.fetchall(), env_free)
        cursor.execute(DEQUEUE_SQL, {"now": timezone.now(), "ids": ids})
        picked = cursor.fetchall()
        transaction.on_commit(lambda: publish.execute_runs(picked))

    if picked:
        logger.debug("dispatched %d runs", len(picked), extra={"action": "dispatched"})
    return [run_id for run_id, _ in picked]


def lane_free(lane: Lane, limit: int | None, busy: dict[Lane, int], env_free: int) -> int:
    if limit is None:
        return env_free
    return max(0, min(limit - busy.get(lane, 0), env_free))


def share_round_robin(rows: list[tuple[str, int, str]], slots: int) -> list[str]:
    """Take runs one lane at a time, oldest first within each lane."""
    by_lane: dict[Lane, list[str]] = defaultdict(list)
    for run_id, queue_id, key in rows:
        by_lane[Lane(queue_id, key)].append(run_id)
    ordered = [
        run_id
        for turn in zip_longest(*by_lane.values())
        for run_id in turn
        if run_id is not None
    ]
    return ordered[:slots]
