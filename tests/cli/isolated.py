"""A database and broker of their own, for tests whose workers load extra task modules.

Every worker on a broker must know every task: the session's platform worker
would take these runs and fail them as unknown tasks.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from django.conf import settings

from tests.live import BIN, ROOT, Platform

# Redis database numbers apart from the suite's (15).
ISOLATED_BROKER_DB = 13


def server_url(name: str) -> str:
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{name}"


def admin_connection() -> psycopg.Connection:
    db = settings.DATABASES["default"]
    return psycopg.connect(
        host=db["HOST"],
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db.get("PASSWORD") or None,
        dbname="postgres",
        autocommit=True,
    )


@contextmanager
def fresh_database(migrate: bool = True) -> Iterator[str]:
    """Create an empty database (migrated unless told not to); drop it afterwards."""
    name = f"triggerkit_iso_{uuid.uuid4().hex[:10]}"
    with admin_connection() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = server_url(name)
    try:
        if migrate:
            subprocess.run(
                [str(BIN / "python"), "manage.py", "migrate", "-v0"],
                cwd=ROOT,
                env=isolated_env(url),
                check=True,
                timeout=120,
            )
        yield url
    finally:
        with admin_connection() as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                [name],
            )
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def broker_url() -> str:
    base = settings.CELERY_BROKER_URL.rsplit("/", 1)[0]
    return f"{base}/{ISOLATED_BROKER_DB}"


def isolated_env(database_url: str, **extra: str) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIGGER_")}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.update(
        {
            "DATABASE_URL": database_url,
            "CELERY_BROKER_URL": broker_url(),
            "TRIGGERKIT_TICK_SECONDS": "0.2",
            "PYTHONUNBUFFERED": "1",
            **extra,
        }
    )
    return env


def flush_broker() -> None:
    import redis

    redis.Redis.from_url(broker_url()).flushdb()


@contextmanager
def platform(
    work_dir,
    project: str,
    slug: str,
    environment: str = "dev",
    *,
    background: bool = True,
    **extra: str,
) -> Iterator[Platform]:
    """Web (and worker and beat unless told not to) on a fresh database and the
    isolated broker, with a project made by `manage.py create_project` and a key
    made by `triggerkit keys create`, as `platform.key`."""
    from tests.cli.conftest import run_cli

    with fresh_database() as url:
        flush_broker()
        env = isolated_env(url, **extra)
        subprocess.run(
            [str(BIN / "python"), "manage.py", "create_project", project, "--slug", slug],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        key = run_cli("keys", "create", slug, environment, env=env).out.strip()
        live = Platform(env, work_dir)
        try:
            live.start_web()
            if background:
                live.start_worker()
                live.start_beat()
            live.key = key
            yield live
        finally:
            live.stop()
