"""Inserting many runs at once with generate_series, for the list benchmark and plan tests.

Ids follow runs.ids: ten base32hex characters of the creation time in
milliseconds, then sixteen more, so seeded runs sort in creation order and
older than any run triggered afterwards. Columns this module does not know
(added by a later migration) get a neutral value when they are NOT NULL, so
the seed keeps working as the schema grows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from runs.ids import ALPHABET, TIME_CHARS

SEED_SPACING_MS = 2500
# Statuses of a seeded history, out of 100 runs.
HISTORY_STATUSES = (
    ("COMPLETED", 85),
    ("FAILED", 6),
    ("CANCELED", 2),
    ("EXPIRED", 1),
    ("CRASHED", 1),
    ("QUEUED", 3),
    ("DELAYED", 1),
    ("WAITING", 1),
)
TASK_COUNT = 10
# One run in this many belongs to the rare task (the slowest filter to page through).
RARE_TASK_EVERY = 1000
RARE_TASK = "rare-task"
TAG_COUNT = 1000
NEUTRAL_VALUES = {
    "integer": "0",
    "bigint": "0",
    "smallint": "0",
    "boolean": "false",
    "jsonb": "'{}'::jsonb",
    "ARRAY": "'{}'",
    "timestamp with time zone": "now()",
}
FINAL_STATUSES = ("COMPLETED", "FAILED", "CANCELED", "EXPIRED", "CRASHED")


@dataclass(frozen=True)
class SeedShape:
    """What the seeded runs look like."""

    statuses: tuple[tuple[str, int], ...] = HISTORY_STATUSES
    concurrency_keys: int = 1


QUEUED_BACKLOG = SeedShape(statuses=(("QUEUED", 100),), concurrency_keys=5)


def id_expression(ms: str, unique: str) -> str:
    """SQL for a run id whose time part encodes `ms`, as runs.ids does."""
    chars = [
        f"substr('{ALPHABET}', ((({ms}) >> {5 * (TIME_CHARS - 1 - i)}) & 31)::int + 1, 1)"
        for i in range(TIME_CHARS)
    ]
    return "'run_' || " + " || ".join(chars) + f" || substr(md5({unique}), 1, 16)"


def status_expression(statuses: tuple[tuple[str, int], ...]) -> str:
    cases, bound = [], 0
    for status, share in statuses:
        bound += share
        cases.append(f"WHEN mod(g, 100) < {bound} THEN '{status}'")
    return "CASE " + " ".join(cases) + f" ELSE '{statuses[0][0]}' END"


def known_columns(shape: SeedShape) -> dict[str, str]:
    """Expressions for the columns the seed fills on purpose (`g` is the row number)."""
    ms = f"(%(now_ms)s::bigint - (%(count)s::bigint - g) * {SEED_SPACING_MS})"
    at = f"to_timestamp(({ms}) / 1000.0)"
    final = "s.status IN (" + ", ".join(f"'{s}'" for s in FINAL_STATUSES) + ")"
    return {
        "id": id_expression(ms, "g::text || %(salt)s"),
        "environment_id": "%(environment_id)s",
        "queue_id": "(%(queue_ids)s::bigint[])[1 + mod(g, cardinality(%(queue_ids)s::bigint[]))]",
        "task_identifier": (
            f"CASE WHEN mod(g, {RARE_TASK_EVERY}) = 7 THEN '{RARE_TASK}' "
            f"ELSE 'task-' || (mod(g, {TASK_COUNT})) END"
        ),
        "concurrency_key": (
            "''"
            if shape.concurrency_keys <= 1
            else f"'key-' || (mod(g, {shape.concurrency_keys}))"
        ),
        "status": "s.status",
        "payload": "'{\"i\":' || g || '}'",
        "payload_type": "'application/json'",
        "output_type": "'application/json'",
        "tags": f"ARRAY['customer-' || (mod(g, {TAG_COUNT})), 'plan-' || mod(g, 3)]",
        "extra_options": "'{}'::jsonb",
        "queue_timestamp": f"CASE WHEN s.status = 'QUEUED' THEN {at} END",
        "delay_until": f"CASE WHEN s.status = 'DELAYED' THEN {at} + interval '3650 days' END",
        "priority_seconds": "0",
        "max_attempts": "3",
        "attempt_count": f"CASE WHEN {final} THEN 1 ELSE 0 END",
        "created_at": at,
        "updated_at": at,
        "started_at": f"CASE WHEN {final} THEN {at} + interval '1 second' END",
        "finished_at": f"CASE WHEN {final} THEN {at} + interval '2 seconds' END",
        "depth": "0",
        "trigger_function": "'trigger'",
        "trigger_source": "'api'",
        "is_test": "false",
    }


def insert_sql(cursor, shape: SeedShape) -> str:
    cursor.execute(
        "SELECT column_name, data_type, is_nullable, column_default "
        "FROM information_schema.columns WHERE table_name = 'runs_run' "
        "AND table_schema = current_schema() AND is_generated = 'NEVER' "
        "AND is_identity = 'NO'"
    )
    known = known_columns(shape)
    columns, values = [], []
    for name, data_type, nullable, default in cursor.fetchall():
        if name in known:
            columns.append(name)
            values.append(known[name])
        elif nullable == "NO" and default is None:
            columns.append(name)
            values.append(NEUTRAL_VALUES.get(data_type, "''"))
    return (
        f"INSERT INTO runs_run ({', '.join(columns)}) "
        f"SELECT {', '.join(values)} "
        f"FROM generate_series(1, %(count)s) AS g, "
        f"LATERAL (SELECT {status_expression(shape.statuses)} AS status) AS s"
    )


def insert_runs(
    cursor,
    environment_id: int,
    queue_ids: list[int],
    count: int,
    shape: SeedShape = SeedShape(),
    salt: str = "",
    rebuild_indexes: bool = False,
) -> None:
    """Insert `count` runs ending now; `rebuild_indexes` drops and rebuilds them around it.

    Rebuilding is much faster for a million rows, but takes an exclusive lock:
    use it only on a database nobody else uses.
    """
    sql = insert_sql(cursor, shape)
    params = {
        "count": count,
        "now_ms": int(time.time() * 1000) - 1000,
        "environment_id": environment_id,
        "queue_ids": queue_ids,
        "salt": salt,
    }
    dropped = drop_secondary_indexes(cursor) if rebuild_indexes else []
    try:
        cursor.execute(sql, params)
    finally:
        for definition in dropped:
            cursor.execute(definition)
    cursor.execute("ANALYZE runs_run")


def drop_secondary_indexes(cursor) -> list[str]:
    """Drop the indexes of runs_run that back no constraint; return their definitions."""
    cursor.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i "
        "WHERE i.tablename = 'runs_run' AND i.schemaname = current_schema() "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
        "WHERE c.conindid = (quote_ident(i.schemaname) || '.' || quote_ident(i.indexname))::regclass)"
    )
    rows = cursor.fetchall()
    for name, _ in rows:
        cursor.execute(f'DROP INDEX "{name}"')
    return [definition for _, definition in rows]
