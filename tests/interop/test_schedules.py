"""schedules.* of the official TypeScript SDK against a live Triggerkit."""

from __future__ import annotations

from datetime import datetime

import pytest

from runs.engine.schedules import DeclaredSchedule, register_declared_schedules
from runs.models import Schedule, ScheduleType


@pytest.fixture
def environment(live_project):
    """The development environment, where echo is a scheduled task with a daily cron."""
    environment = live_project.environments["DEVELOPMENT"]
    register_declared_schedules(
        [DeclaredSchedule("echo", "0 9 * * *", "Europe/Paris")], [environment]
    )
    yield environment
    Schedule.objects.filter(environment=environment).delete()


def test_every_schedules_call_of_the_official_sdk_succeeds(node_sdk, environment):
    declarative = Schedule.objects.get(
        environment=environment, type=ScheduleType.DECLARATIVE
    )

    seen = node_sdk.run("schedules.mjs", DECLARATIVE_ID=declarative.pk)

    assert seen["zones"] == {
        "count": seen["zones"]["count"],
        "first": "UTC",
        "hasParis": True,
    }
    assert seen["zonesWithoutUtc"] == {
        "hasUtc": False,
        "count": seen["zones"]["count"] - 1,
    }

    created, upserted, other = seen["created"], seen["upserted"], seen["other"]
    assert created["id"].startswith("sched_")
    assert created["type"] == "IMPERATIVE"
    assert (created["task"], created["active"], created["timezone"]) == (
        "echo",
        True,
        "Europe/Paris",
    )
    assert (created["deduplicationKey"], created["externalId"]) == (
        "interop-user-1",
        "user-1",
    )
    assert created["generator"] == {
        "type": "CRON",
        "expression": "0 8 * * *",
        "description": "At 08:00 AM",
    }
    assert created["environments"] == [
        {"id": environment.public_id, "type": "DEVELOPMENT", "userName": None}
    ]
    # 08:00 in Paris is 07:00 or 06:00 UTC, depending on the season.
    assert parse(created["nextRun"]).minute == 0
    assert parse(created["nextRun"]).hour in (6, 7)

    # Upsert: the same deduplication key updates the schedule it names.
    assert upserted["id"] == created["id"]
    assert upserted["generator"]["expression"] == "*/30 * * * *"
    assert upserted["timezone"] == "UTC"
    assert other["id"] != created["id"]

    ours = {created["id"], other["id"], declarative.pk}
    assert seen["firstPage"]["pagination"] == {
        "currentPage": 1,
        "totalPages": 2,
        "count": 3,
    }
    assert seen["firstPage"]["ids"] == [other["id"], created["id"]]
    assert seen["everyId"] == [other["id"], created["id"], declarative.pk]
    assert set(seen["everyId"]) == ours

    assert seen["byId"] == seen["byKey"] == upserted
    updated = seen["updated"]
    assert (updated["id"], updated["timezone"], updated["externalId"]) == (
        created["id"],
        "Asia/Tokyo",
        "user-1b",
    )
    assert updated["generator"]["description"] == "At 10:15 AM"
    # 10:15 in Tokyo is 01:15 UTC.
    assert (parse(updated["nextRun"]).hour, parse(updated["nextRun"]).minute) == (1, 15)
    assert (seen["deactivated"]["active"], seen["deactivated"]["nextRun"]) == (
        False,
        None,
    )
    assert seen["activated"]["active"] is True
    assert seen["activated"]["nextRun"] == updated["nextRun"]
    assert seen["deleted"] == {"id": other["id"]}
    assert_error(seen["afterDelete"], "NotFoundError", 404, "Schedule not found")


def test_the_official_sdk_sees_each_refusal_as_its_error_class(node_sdk, environment):
    declarative = Schedule.objects.get(
        environment=environment, type=ScheduleType.DECLARATIVE
    )

    seen = node_sdk.run("schedules.mjs", DECLARATIVE_ID=declarative.pk)

    refused = seen["refused"]
    assert_error(
        refused["invalidCron"],
        "UnprocessableEntityError",
        422,
        "Invalid cron expression",
    )
    assert_error(
        refused["seconds"],
        "UnprocessableEntityError",
        422,
        "CRON expressions with seconds are not allowed",
    )
    assert_error(
        refused["unknownZone"], "UnprocessableEntityError", 422, "Invalid timezone"
    )
    assert_error(
        refused["notScheduled"], "UnprocessableEntityError", 422, "not a scheduled task"
    )
    assert_error(
        refused["declarative"],
        "UnprocessableEntityError",
        422,
        "Cannot update a declarative schedule",
    )
    assert_error(refused["missingKey"], "BadRequestError", 400, "Invalid request body")
    # Nothing was created by the refused calls, and the declarative one is unchanged.
    assert seen["remaining"]["count"] == 2
    declarative.refresh_from_db()
    assert declarative.cron == "0 9 * * *"


def assert_error(seen: dict, error_class: str, status: int, message: str) -> None:
    error = seen["error"]
    assert (error["class"], error["status"]) == (error_class, status)
    assert message in error["message"]
    assert seen["elapsedMs"] < 2000


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value)
