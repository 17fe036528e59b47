"""A Django project using only Django's tasks API runs its tasks on Triggerkit."""

import json
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.cli import isolated
from tests.live import BIN

PROJECT = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A platform whose worker imports the shop's tasks module."""
    with isolated.platform(
        tmp_path_factory.mktemp("django-tasks"),
        "Shop",
        "shop",
        TRIGGERKIT_TASK_MODULES="examples.tasks,shop.tasks",
        PYTHONPATH=str(PROJECT),
    ) as live:
        yield live


def run_in_project(site, script):
    """Run a script of the shop project, which knows only the key and the URL."""
    env = {
        k: v
        for k, v in site.env.items()
        if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "TRIGGERKIT_TASK_MODULES")
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "shopsite.settings",
            "PYTHONPATH": str(PROJECT),
            "TRIGGER_SECRET_KEY": site.key,
            "TRIGGER_API_URL": site.url,
        }
    )
    done = subprocess.run(
        [str(BIN / "python"), script],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr + site.processes[1].log()[-3000:]
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def outcome(site):
    return run_in_project(site, "enqueue_and_wait.py")


def test_an_enqueued_task_returns_its_value_through_the_task_result(outcome):
    add = outcome["add"]

    assert add["enqueued"] == "READY"
    assert add["status"] == "SUCCESSFUL"
    assert add["value"] == 5
    assert add["attempts"] == 1
    assert add["fetched"] == ["SUCCESSFUL", 5, [2, 3]]


def test_keyword_arguments_and_a_named_queue_reach_the_task(outcome, site):
    assert outcome["total"] == ["SUCCESSFUL", 27.45, {"discount": 0.1}]


def test_an_exception_in_the_task_is_a_failed_result_naming_its_class(outcome):
    refuse = outcome["refuse"]

    assert refuse["status"] == "FAILED"
    assert refuse["exception"] == "builtins.ValueError"
    assert refuse["class"] == "ValueError"
    assert "order 42 cannot be refunded" in refuse["traceback"]


def test_a_task_that_takes_context_sees_its_own_result_id(outcome):
    value, result_id = outcome["context"]

    assert value == {"label": "ctx", "id": result_id, "attempt": 1}


def test_async_tasks_and_deferred_tasks_run(outcome):
    assert outcome["shout"] == ["SUCCESSFUL", "HELLO"]
    assert outcome["later"] == ["READY", "SUCCESSFUL", 2, True]


def test_an_unknown_result_id_does_not_exist(outcome):
    assert outcome["missing"] == "does not exist"


def test_the_runs_are_triggerkit_runs_visible_with_their_task_path(outcome, site):
    headers = {"Authorization": f"Bearer {site.key}"}
    response = httpx.get(
        f"{site.url}/api/v3/runs/{outcome['add']['id']}", headers=headers
    )

    run = response.json()
    assert run["taskIdentifier"] == "shop.tasks.add"
    assert run["tags"] == ["shop"]
    assert run["payload"] == {"args": [2, 3], "kwargs": {}}
    listed = httpx.get(
        f"{site.url}/api/v1/runs",
        params={"filter[taskIdentifier]": "shop.tasks.total"},
        headers=headers,
    ).json()["data"]
    assert len(listed) == 1


def test_the_django_6_spelling_is_the_one_used_when_django_tasks_exists(site):
    # Given: `django.tasks` importable, as on Django 6 (here: the backport under
    # that name, see enqueue_as_django_6.py). When: a task is enqueued and read.
    seen = run_in_project(site, "enqueue_as_django_6.py")
    if seen["native"]:
        pytest.skip("Django ships django.tasks here: the tests above run on it")

    # Then: triggerkit_django imported the tasks API under that name only
    assert set(seen["imports"]) >= {
        "django.tasks",
        "django.tasks.backends.base",
        "django.tasks.base",
        "django.tasks.exceptions",
        "django.tasks.signals",
    }
    assert not [name for name in seen["imports"] if name.startswith("django_tasks")]
    # and the task ran on the worker, its result read back through it.
    assert seen["add"] == ["READY", "SUCCESSFUL", 5]
    assert seen["missing"] == "TaskResultDoesNotExist"
    assert seen["context"] == {"label": "ctx", "id": "run_local", "attempt": 1}
    assert seen["invalid"].startswith("Task path '__main__.xxx")
    assert seen["invalid"].endswith("is over 128 characters.")
