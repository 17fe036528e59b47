from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
import redis
from django.conf import settings
from django.db import connection

from tests.live import Platform, platform_env


@dataclass
class ProjectKeys:
    project: object
    dev: str
    staging: str
    prod: str
    environments: dict


def create_test_project(name: str | None = None) -> ProjectKeys:
    """A fresh project whose environments know every task the test worker runs."""
    from apikeys.models import Environment, EnvironmentKind, create_api_key, create_project
    from runs import engine, worker

    slug = name or f"p-{uuid.uuid4().hex[:10]}"
    project = create_project(slug, slug)
    environments = {env.kind: env for env in Environment.objects.filter(project=project)}
    definitions = [worker.definition_of(task) for task in worker.load_task_modules().values()]
    engine.register_tasks(definitions, list(environments.values()))
    keys = {kind: create_api_key(env)[1] for kind, env in environments.items()}
    return ProjectKeys(
        project,
        keys[EnvironmentKind.DEVELOPMENT],
        keys[EnvironmentKind.STAGING],
        keys[EnvironmentKind.PRODUCTION],
        environments,
    )


@pytest.fixture
def project(db) -> ProjectKeys:
    return create_test_project()


@pytest.fixture(scope="session")
def django_db_setup(django_test_environment, django_db_blocker):
    """Create the test database even when only live tests run (they carry no marker)."""
    from django.test.utils import setup_databases, teardown_databases

    with django_db_blocker.unblock():
        config = setup_databases(
            verbosity=0, interactive=False, aliases={"default"}, serialized_aliases=set()
        )
    yield
    with django_db_blocker.unblock():
        teardown_databases(config, verbosity=0)


@pytest.fixture(scope="session")
def live_db(django_db_setup, django_db_blocker):
    """The session's test database, open to the test process without per-test flushes."""
    with django_db_blocker.unblock():
        yield connection.settings_dict["NAME"]


@pytest.fixture(scope="session")
def broker_url() -> str:
    """The test broker; this session's keys carry its own prefix, cleared here."""
    url = settings.CELERY_BROKER_URL
    prefix = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix")
    if url.startswith("redis://") and prefix:
        client = redis.Redis.from_url(url)
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
    return url


@pytest.fixture(scope="session")
def platform(live_db, broker_url, tmp_path_factory):
    """Web, one worker (concurrency 2) and beat, running against the test database."""
    db = settings.DATABASES["default"]
    database_url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{live_db}"
    live = Platform(platform_env(database_url, broker_url), tmp_path_factory.mktemp("platform"))
    try:
        live.start_web()
        live.start_worker()
        live.start_beat()
        yield live
    finally:
        live.stop()


@pytest.fixture
def live_project(live_db) -> ProjectKeys:
    return create_test_project()
