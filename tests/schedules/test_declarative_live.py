"""A worker whose task modules declare `@schedules.task(cron=…)` registers the
schedule; restarted without the declaration, it deletes it. Real worker, real API.

No beat runs here: these tests read the schedule, they wait for no tick.
"""

from __future__ import annotations

import os
import textwrap
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.cli import isolated

TASK_ID = "declared-every-minute"

DECLARED = f"""
from triggerkit import schedules


@schedules.task(id="{TASK_ID}", cron="* * * * *")
def every_minute(payload):
    return {{"tick": payload.timestamp.isoformat()}}
"""

# The same task once its cron is removed from the code.
UNDECLARED = f"""
from triggerkit import schedules


@schedules.task(id="{TASK_ID}")
def every_minute(payload):
    return {{"tick": payload.timestamp.isoformat()}}
"""


def write(path, text):
    path.write_text(textwrap.dedent(text))
    # Move the mtime clearly forward, so no stale bytecode is used.
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Web on a database of its own; the tests start and restart the worker."""
    source = tmp_path_factory.mktemp("declared-src")
    package = source / f"declared_{uuid.uuid4().hex[:8]}"
    package.mkdir()
    (package / "__init__.py").write_text("")
    write(package / "tasks.py", DECLARED)
    with isolated.platform(
        tmp_path_factory.mktemp("declared"),
        "Declared",
        "declared",
        background=False,
        TRIGGERKIT_TASK_MODULES=f"examples.tasks,{package.name}.tasks",
        PYTHONPATH=str(source),
    ) as live:
        live.tasks_file = package / "tasks.py"
        yield live


def listed_schedules(site):
    response = httpx.get(
        f"{site.url}/api/v1/schedules",
        headers={"Authorization": f"Bearer {site.key}"},
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_a_declared_cron_appears_as_a_declarative_schedule_and_goes_with_the_code(
    site,
):
    # Given: a worker whose task module declares a schedule every minute.
    before = datetime.now(UTC)
    worker = site.start_worker()
    ready = datetime.now(UTC)

    # Then: the API lists it as DECLARATIVE, with its cron and the next minute.
    listed = listed_schedules(site)
    [schedule] = listed["data"]
    assert listed["pagination"]["count"] == 1
    assert schedule["type"] == "DECLARATIVE"
    assert schedule["task"] == TASK_ID
    assert schedule["active"] is True
    assert schedule["deduplicationKey"] is None
    assert schedule["generator"] == {
        "type": "CRON",
        "expression": "* * * * *",
        "description": "Every minute",
    }
    assert schedule["timezone"] == "UTC"
    assert schedule["environments"][0]["type"] == "DEVELOPMENT"
    next_run = datetime.fromisoformat(schedule["nextRun"].replace("Z", "+00:00"))
    assert next_run.second == 0 and next_run.microsecond == 0
    assert before < next_run <= ready + timedelta(minutes=1)

    # When: the cron is removed from the code and the worker restarts.
    worker.stop()
    write(site.tasks_file, UNDECLARED)
    site.start_worker(name="worker-2")

    # Then: the schedule is gone, from the list and by its id.
    assert listed_schedules(site)["data"] == []
    gone = httpx.get(
        f"{site.url}/api/v1/schedules/{schedule['id']}",
        headers={"Authorization": f"Bearer {site.key}"},
    )
    assert gone.status_code == 404

    # And the task, still a scheduled task, takes imperative schedules.
    created = httpx.post(
        f"{site.url}/api/v1/schedules",
        json={"task": TASK_ID, "cron": "0 9 * * *", "deduplicationKey": "nine"},
        headers={"Authorization": f"Bearer {site.key}"},
    )
    assert created.status_code == 200, created.text
    assert [s["type"] for s in listed_schedules(site)["data"]] == ["IMPERATIVE"]
