"""Scheduled tasks for the schedule tests, registered in a test project.

The tasks are built without the decorator so that they stay out of the SDK's
global registry (and so out of every other test's projects).
"""

import json
from datetime import UTC, datetime

import pytest

from runs import engine, worker
from runs.engine import schedules
from runs.models import Schedule
from triggerkit.schedules import ScheduledTask


def nightly_cleanup(payload):
    return {"cleaned": payload.timestamp.isoformat()}


def user_digest(payload, ctx):
    return {"user": payload.external_id}


# Scheduled tasks without a cron of their own: no declarative schedule.
DIGEST = ScheduledTask(user_digest, id="user-digest")
CLEANUP = ScheduledTask(nightly_cleanup, id="nightly-cleanup")
# The same cleanup task, as a worker whose code gives it a cron sees it.
NIGHTLY = ScheduledTask(nightly_cleanup, id="nightly-cleanup", cron="0 3 * * *")


def register_scheduled_tasks(environments, tasks=(DIGEST, CLEANUP)):
    """What a worker declaring these tasks does at start."""
    engine.register_tasks([worker.definition_of(task) for task in tasks], environments)
    worker.register_schedules(tasks, environments)


@pytest.fixture
def env(project):
    """The test project's development environment, with the scheduled tasks."""
    register_scheduled_tasks(list(project.environments.values()))
    return project.environments["DEVELOPMENT"]


def at(text: str) -> datetime:
    """A UTC instant from '2030-01-01 10:00:00'."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def make_schedule(env, *, cron="* * * * *", timezone="UTC", next_run_at=None, **fields):
    """An imperative schedule of user-digest whose next tick is `next_run_at`."""
    schedule = schedules.upsert_schedule(
        env,
        task_identifier=fields.pop("task", "user-digest"),
        cron=cron,
        deduplication_key=fields.pop("key", f"key-{Schedule.objects.count()}"),
        timezone_name=timezone,
        **fields,
    )
    if next_run_at is not None:
        Schedule.objects.filter(pk=schedule.pk).update(next_run_at=next_run_at)
        schedule.refresh_from_db()
    return schedule


class ScheduleApi:
    """The Django test client with a secret key, for the schedule endpoints."""

    def __init__(self, client, key):
        self.client = client
        self.key = key

    def call(self, method, path, body=None, *, raw=None, key=None, params=None):
        headers = {}
        if key is not False:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {key or self.key}"
        if method == "GET":
            return self.client.get(path, params or {}, **headers)
        data = raw if raw is not None else ("" if body is None else json.dumps(body))
        send = getattr(self.client, method.lower())
        return send(path, data=data, content_type="application/json", **headers)

    def create(self, **body):
        body = {
            "task": "user-digest",
            "cron": "0 8 * * *",
            "deduplicationKey": "user-1",
            **body,
        }
        return self.call("POST", "/api/v1/schedules", body)


@pytest.fixture
def api(client, project, env):
    return ScheduleApi(client, project.dev)
