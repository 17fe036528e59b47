"""`triggerkit keys create` writes a key to the database and prints it once."""

import pytest
from django.conf import settings

from tests.cli.conftest import run_cli


@pytest.fixture
def server_env(live_db, platform):
    db = settings.DATABASES["default"]
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{live_db}"
    return {"DATABASE_URL": url, "CELERY_BROKER_URL": settings.CELERY_BROKER_URL}


def test_keys_create_prints_a_key_that_the_api_accepts(
    server_env, cli_project, platform
):
    slug = cli_project.project.slug

    created = run_cli("keys", "create", slug, "stg", "--name", "ci", env=server_env)

    assert created.code == 0, created.err
    key = created.out.strip()
    assert key.startswith("tr_stg_") and len(created.out.splitlines()) == 1
    assert "shown only once" in created.err
    whoami = run_cli("whoami", "--secret-key", key, "--api-url", platform.url)
    assert "stg (STAGING)" in whoami.out


def test_keys_create_for_an_unknown_project_exits_2(server_env):
    result = run_cli("keys", "create", "no-such-project", "dev", env=server_env)

    assert result.code == 2
    assert "no project with slug 'no-such-project'" in result.err
    assert result.out == ""


def test_keys_create_with_an_empty_name_exits_1(server_env, cli_project):
    result = run_cli(
        "keys",
        "create",
        cli_project.project.slug,
        "dev",
        "--name",
        " ",
        env=server_env,
    )

    assert result.code == 1


def test_keys_create_without_a_reachable_database_exits_4():
    env = {"DATABASE_URL": "postgres://postgres@127.0.0.1:1/nothing"}

    result = run_cli("keys", "create", "demo", "dev", env=env)

    assert result.code == 4
    assert "cannot reach the database" in result.err
