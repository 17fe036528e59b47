"""Live platforms for the storage tests, and the S3 server they talk to.

Each platform (web, worker, beat) has a database and broker key prefix of its
own: its worker loads tests.storage.tasks, which the session's worker does not
know, and its runs must not be dispatched by the session's beat. One keeps its
objects in a local folder, the other in S3: moto in server mode on loopback,
started here in a thread of the test process.

Test modules in different folders use the same platforms through ``shared``:
whoever needs one first starts it, and the last one to let go stops it.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import psycopg
import redis
from botocore.config import Config
from django.conf import settings

from tests.live import BIN, ROOT, Platform, free_port, http_ok, platform_env, wait_until

BUCKET = "triggerkit-tests"
S3_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
TASK_MODULES = "examples.tasks,tests.tasks,tests.storage.tasks"

_shared: dict[str, list[Any]] = {}


@contextmanager
def shared(
    name: str, start: Callable[[], AbstractContextManager[Any]]
) -> Iterator[Any]:
    """Enter `start()` once for every holder of `name`; exit it after the last."""
    if name not in _shared:
        stack = ExitStack()
        _shared[name] = [stack.enter_context(start()), 0, stack]
    entry = _shared[name]
    entry[1] += 1
    try:
        yield entry[0]
    finally:
        entry[1] -= 1
        if entry[1] == 0:
            del _shared[name]
            entry[2].close()


# S3 -------------------------------------------------------------------------


@dataclass
class Moto:
    endpoint: str
    bucket: str = BUCKET

    def client(self):
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
            **S3_CREDENTIALS,
        )

    def keys(self) -> set[str]:
        keys: set[str] = set()
        pages = (
            self.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
        )
        for page in pages:
            keys.update(item["Key"] for item in page.get("Contents", []))
        return keys

    def new_bucket(self) -> Moto:
        """The same server with a fresh, empty bucket."""
        moto = Moto(self.endpoint, f"triggerkit-{uuid.uuid4().hex[:12]}")
        moto.client().create_bucket(Bucket=moto.bucket)
        return moto

    def settings(self) -> dict[str, str]:
        """What points Triggerkit at this server, as settings (and env) values."""
        return {
            "TRIGGERKIT_S3_BUCKET": self.bucket,
            "TRIGGERKIT_S3_ENDPOINT_URL": self.endpoint,
            "TRIGGERKIT_S3_REGION": "us-east-1",
            "TRIGGERKIT_S3_ACCESS_KEY_ID": S3_CREDENTIALS["aws_access_key_id"],
            "TRIGGERKIT_S3_SECRET_ACCESS_KEY": S3_CREDENTIALS["aws_secret_access_key"],
        }


@contextmanager
def moto_server() -> Iterator[Moto]:
    """A real S3 API on a free loopback port, with the test bucket created."""
    from moto.server import ThreadedMotoServer

    # One line per request from the server's HTTP layer would drown test output.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        moto = Moto(f"http://127.0.0.1:{port}")
        moto.client().create_bucket(Bucket=BUCKET)
        yield moto
    finally:
        server.stop()


# Databases --------------------------------------------------------------------


def database_url(name: str) -> str:
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{name}"


def admin(sql: str) -> None:
    db = settings.DATABASES["default"]
    with psycopg.connect(
        host=db["HOST"],
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db.get("PASSWORD") or None,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        conn.execute(sql)


def drop_database(name: str) -> None:
    admin(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"
    )
    admin(f'DROP DATABASE IF EXISTS "{name}"')


@dataclass
class Template:
    name: str
    key: str  # the development secret key of its one project


@contextmanager
def template_database() -> Iterator[Template]:
    """A migrated database with one project, copied for each platform."""
    name = f"triggerkit_storage_{uuid.uuid4().hex[:8]}"
    admin(f'CREATE DATABASE "{name}"')
    try:
        env = platform_env(database_url(name), settings.CELERY_BROKER_URL)
        manage = [sys.executable, "manage.py"]
        subprocess.run(
            [*manage, "migrate", "-v", "0", "--skip-checks"],
            cwd=ROOT,
            env=env,
            check=True,
        )
        created = subprocess.run(
            [*manage, "create_project", "Storage", "--slug", "storage"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        keys = [
            line.split()[-1]
            for line in created.stdout.splitlines()
            if "tr_dev_" in line
        ]
        yield Template(name, keys[0])
    finally:
        drop_database(name)


# Platforms --------------------------------------------------------------------


@dataclass
class LiveStore:
    """A running platform and what the tests check behind its back."""

    kind: str
    platform: Platform
    database: str
    key: str
    objects_dir: Path | None = None
    moto: Moto | None = None

    @property
    def url(self) -> str:
        return self.platform.url

    def object_keys(self) -> set[str]:
        if self.moto is not None:
            return self.moto.keys()
        folder = self.objects_dir / "packets"
        return {
            f"packets/{path.parent.name}/{path.name}"
            for path in folder.glob("*/*")
            if not path.name.endswith(".meta") and not path.name.startswith(".")
        }

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        with psycopg.connect(database_url(self.database)) as conn:
            return conn.execute(sql, params).fetchall()

    def run_count(self) -> int:
        return self.query("SELECT count(*) FROM runs_run")[0][0]


def start_web(platform: Platform) -> None:
    """Gunicorn on a port chosen first, so that SITE_URL (local object URLs) names it."""
    port = free_port()
    platform.url = f"http://127.0.0.1:{port}"
    process = platform.spawn(
        "web",
        [
            str(BIN / "gunicorn"),
            "config.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            "2",
            "-k",
            "gthread",
            "--threads",
            "4",
            "--timeout",
            "120",
        ],
        env={"SITE_URL": platform.url},
    )
    wait_until(
        lambda: http_ok(f"{platform.url}/healthz"), process, "web server", timeout=60
    )


@contextmanager
def live_store(kind: str, work_dir: Path) -> Iterator[LiveStore]:
    """Start web, worker and beat storing objects locally ("local") or in moto ("s3")."""
    with ExitStack() as stack:
        template = stack.enter_context(shared("template", template_database))
        moto = (
            stack.enter_context(shared("moto", moto_server)) if kind == "s3" else None
        )
        name = f"{template.name}_{kind}"
        admin(f'CREATE DATABASE "{name}" TEMPLATE "{template.name}"')
        stack.callback(drop_database, name)

        prefix = f"storage-{uuid.uuid4().hex[:8]}:"
        stack.callback(clear_broker, prefix)
        env = platform_env(database_url(name), settings.CELERY_BROKER_URL)
        env.update(
            {
                "CELERY_BROKER_KEY_PREFIX": prefix,
                "TRIGGERKIT_TASK_MODULES": TASK_MODULES,
                "TRIGGERKIT_OBJECTS_DIR": str(work_dir / "objects"),
                **(moto.settings() if moto else {}),
            }
        )
        platform = Platform(env, work_dir)
        stack.callback(platform.stop)
        starts = [
            lambda: start_web(platform),
            platform.start_worker,
            platform.start_beat,
        ]
        with ThreadPoolExecutor(len(starts)) as pool:
            list(pool.map(lambda start: start(), starts))
        yield LiveStore(kind, platform, name, template.key, work_dir / "objects", moto)


def clear_broker(prefix: str) -> None:
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)


def shared_live_store(kind: str, tmp_path_factory) -> AbstractContextManager[LiveStore]:
    return shared(
        kind, lambda: live_store(kind, tmp_path_factory.mktemp(f"storage-{kind}"))
    )
