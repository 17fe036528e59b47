"""Workers registering scheduled tasks and their declarative schedules at start."""

import logging

import pytest

from runs import worker
from runs.engine import UnprocessableError, schedules
from runs.engine.schedules import register_declared_schedules
from runs.models import Run, Schedule, ScheduleType, Task
from tests.schedules.conftest import (
    CLEANUP,
    DIGEST,
    NIGHTLY,
    at,
    make_schedule,
    register_scheduled_tasks,
)
from triggerkit.schedules import ScheduledTask


@pytest.fixture
def envs(project):
    return list(project.environments.values())


def declarative(environment):
    return list(
        Schedule.objects.filter(environment=environment, type=ScheduleType.DECLARATIVE)
    )


def test_a_worker_registers_one_declarative_schedule_per_environment(envs):
    register_scheduled_tasks(envs, [NIGHTLY, DIGEST])

    for environment in envs:
        [schedule] = declarative(environment)
        assert (schedule.task_identifier, schedule.cron, schedule.timezone) == (
            "nightly-cleanup",
            "0 3 * * *",
            "UTC",
        )
        assert schedule.active and schedule.deduplication_key is None
        assert (schedule.next_run_at.hour, schedule.next_run_at.minute) == (3, 0)
    scheduled = Task.objects.filter(environment__in=envs, is_scheduled=True)
    assert set(scheduled.values_list("slug", flat=True)) == {
        "nightly-cleanup",
        "user-digest",
    }
    assert not Task.objects.get(environment=envs[0], slug="echo").is_scheduled


def test_registering_the_same_code_again_changes_nothing(envs):
    register_scheduled_tasks(envs, [NIGHTLY])
    [before] = declarative(envs[0])
    # A tick that is due must not be skipped by a worker restart.
    Schedule.objects.filter(pk=before.pk).update(next_run_at=at("2020-01-01 03:00:00"))

    register_scheduled_tasks(envs, [NIGHTLY])

    [after] = declarative(envs[0])
    assert after.pk == before.pk
    assert after.next_run_at == at("2020-01-01 03:00:00")


def test_a_changed_cron_or_zone_retimes_the_same_schedule(envs):
    register_scheduled_tasks(envs, [NIGHTLY])
    [before] = declarative(envs[0])
    changed = ScheduledTask(
        NIGHTLY.func, id="nightly-cleanup", cron="0 4 * * *", timezone="Asia/Tokyo"
    )

    register_scheduled_tasks(envs, [changed])

    [after] = declarative(envs[0])
    assert after.pk == before.pk
    assert (after.cron, after.timezone) == ("0 4 * * *", "Asia/Tokyo")
    # 04:00 in Tokyo is 19:00 UTC.
    assert (after.next_run_at.hour, after.next_run_at.minute) == (19, 0)


def test_a_cron_removed_from_the_code_deletes_its_schedule_but_not_imperative_ones(
    envs,
):
    register_scheduled_tasks(envs, [NIGHTLY, DIGEST])
    imperative = make_schedule(envs[0], key="user-1")

    register_scheduled_tasks(envs, [CLEANUP, DIGEST])

    assert all(declarative(environment) == [] for environment in envs)
    assert Schedule.objects.filter(pk=imperative.pk).exists()


def test_a_worker_whose_code_declares_no_schedules_removes_them_all(envs):
    register_scheduled_tasks(envs, [NIGHTLY, DIGEST])

    worker.register_loaded_tasks()

    assert all(declarative(environment) == [] for environment in envs)
    assert not Task.objects.filter(environment__in=envs, is_scheduled=True).exists()


def test_a_task_no_longer_scheduled_takes_no_new_schedules(envs):
    register_scheduled_tasks(envs, [DIGEST])

    register_declared_schedules([], envs)

    with pytest.raises(UnprocessableError, match="is not a scheduled task"):
        make_schedule(envs[0])


def test_a_declarative_schedule_may_be_limited_to_some_environments(envs, project):
    production_only = ScheduledTask(
        NIGHTLY.func,
        id="nightly-cleanup",
        cron="0 3 * * *",
        environments=["production"],
    )

    register_scheduled_tasks(envs, [production_only])

    assert len(declarative(project.environments["PRODUCTION"])) == 1
    assert declarative(project.environments["DEVELOPMENT"]) == []
    assert declarative(project.environments["STAGING"]) == []
    # The task is a scheduled task everywhere: imperative schedules may use it.
    assert Task.objects.get(environment=envs[0], slug="nightly-cleanup").is_scheduled


def test_a_declarative_schedule_deactivated_by_a_user_stays_inactive(envs):
    register_scheduled_tasks(envs, [NIGHTLY])
    [schedule] = declarative(envs[0])
    schedules.set_schedule_active(schedule, False)

    register_scheduled_tasks(
        envs, [ScheduledTask(NIGHTLY.func, id="nightly-cleanup", cron="0 5 * * *")]
    )

    [after] = declarative(envs[0])
    assert (after.cron, after.active, after.next_run_at) == ("0 5 * * *", False, None)


def test_a_cron_the_engine_refuses_is_logged_and_skipped(envs, caplog):
    broken = ScheduledTask(DIGEST.func, id="user-digest", cron="61 * * * *")

    with caplog.at_level(logging.ERROR, logger="runs.engine.schedules"):
        register_scheduled_tasks(envs, [NIGHTLY, broken])

    assert [s.task_identifier for s in declarative(envs[0])] == ["nightly-cleanup"]
    assert "declarative schedule of user-digest refused" in caplog.text
    assert "out of range" in caplog.text


def test_duplicate_declarative_schedules_are_reduced_to_one(envs):
    register_scheduled_tasks(envs, [NIGHTLY])
    [kept] = declarative(envs[0])
    schedules.create(
        envs[0], "nightly-cleanup", "0 3 * * *", "UTC", kind=ScheduleType.DECLARATIVE
    )

    register_scheduled_tasks(envs, [NIGHTLY])

    assert [schedule.pk for schedule in declarative(envs[0])] == [kept.pk]


def test_the_task_function_receives_a_typed_schedule_payload(envs):
    register_scheduled_tasks(envs, [DIGEST])
    schedule = make_schedule(
        envs[0], external_id="user-42", next_run_at=at("2030-01-01 10:00:00")
    )
    schedules.fire_due_schedules(now=at("2030-01-01 10:00:01"))
    run = Run.objects.get(schedule=schedule)

    output = worker.call_task(DIGEST, run, attempt_number=1)

    assert output == {"user": "user-42"}


def test_the_worker_records_where_the_function_of_a_scheduled_task_lives():
    definition = worker.definition_of(DIGEST)

    assert definition.file_path.endswith("tests/schedules/conftest.py")
    assert definition.export_name == "user_digest"
