"""Where the systems under test keep their state: PostgreSQL databases and Redis dbs.

The bench creates its own `bench_*` databases and drops them at the end, and
uses Redis db numbers of its own (from --redis-db-base up), flushing them
before use. Two targets: the machine's PostgreSQL + Redis, and the embedded
defaults (PostgreSQL and Redis from PyPI wheels) started under a fresh var dir.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import psycopg
import redis
from psycopg import sql

# The machine's servers; the bench creates its own databases and uses its own Redis dbs there.
MACHINE_POSTGRES = os.environ.get(
    "BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432"
)
MACHINE_REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379")
REDIS_TIMEOUT_SECONDS = 300
# Offsets from the Redis db base, one per system so none can see another's messages.
REDIS_DB_OFFSETS = {
    "triggerkit": 0,
    "celery": 1,
    "celery-results": 2,
    "stamps": 3,
}


@dataclass(frozen=True)
class Target:
    name: str
    postgres: str
    # Database URLs take this suffix (the socket folder of embedded PostgreSQL).
    postgres_query: str
    redis_socket: str | None
    redis_db_base: int

    def database_url(self, database: str) -> str:
        return f"{self.postgres}/{database}{self.postgres_query}"

    def broker_url(self, system: str) -> str:
        """Kombu's spelling of the Redis db of one system."""
        db = self.redis_db_base + REDIS_DB_OFFSETS[system]
        if self.redis_socket:
            # db 0 is spelled as the embedded default spells it: Triggerkit's own Redis
            # clients (rate limits, health) take the broker URL and know no query.
            query = f"?virtual_host={db}" if db else ""
            return f"redis+socket://{self.redis_socket}{query}"
        return f"{MACHINE_REDIS}/{db}"

    def redis_url(self, system: str) -> str:
        """redis-py's spelling of the same db."""
        db = self.redis_db_base + REDIS_DB_OFFSETS[system]
        if self.redis_socket:
            return f"unix://{self.redis_socket}?db={db}"
        return f"{MACHINE_REDIS}/{db}"

    def redis(self, system: str) -> redis.Redis:
        # redis-py's default 5 s socket timeout would cut the bench's longer BLPOPs.
        return redis.Redis.from_url(
            self.redis_url(system), socket_timeout=REDIS_TIMEOUT_SECONDS
        )

    def flush(self, system: str) -> None:
        self.redis(system).flushdb()

    def create_database(self, name: str) -> str:
        """Create (after dropping) a bench database; return its URL."""
        check_bench_name(name)
        with psycopg.connect(self.database_url("postgres"), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(name)
                )
            )
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.database_url(name)

    def drop_database(self, name: str) -> None:
        check_bench_name(name)
        with psycopg.connect(self.database_url("postgres"), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(name)
                )
            )


def check_bench_name(name: str) -> None:
    if not name.startswith("bench_"):
        raise ValueError(f"the bench only touches bench_* databases, not {name!r}")


def machine_target(redis_db_base: int) -> Target:
    return Target("machine", MACHINE_POSTGRES, "", None, redis_db_base)


def embedded_target(var_dir: Path) -> Target:
    """Start embedded PostgreSQL and Redis under var_dir (TRIGGERKIT_VAR_DIR)."""
    os.environ["TRIGGERKIT_VAR_DIR"] = str(var_dir)
    from config import embedded

    embedded.start()
    return Target(
        "embedded",
        "postgres://postgres@",
        f"?host={embedded.POSTGRES_DIR}",
        str(embedded.REDIS_SOCKET),
        0,
    )


def stop_embedded() -> None:
    from config import embedded

    embedded.stop()
