"""Missed and overdue ticks, with a clock the tests control."""

from datetime import timedelta

import pytest

from runs.engine import schedules
from runs.engine.schedules import fire_due_schedules, is_overdue
from tests.schedules.conftest import at, make_schedule


@pytest.fixture
def reported(monkeypatch):
    """The missed-fire alerts beat raised, as (task, schedule id, tick)."""
    calls = []

    def record(environment_id, task, schedule_id, scheduled_for):
        calls.append((task, schedule_id, scheduled_for))

    monkeypatch.setattr(schedules, "alert_schedule_missed", record)
    return calls


@pytest.mark.parametrize(
    "late, missed",
    [
        (timedelta(0), False),
        (timedelta(seconds=59), False),
        (timedelta(seconds=60), True),
    ],
    ids=["on-time", "59s-late", "60s-late"],
)
def test_a_fire_a_minute_late_is_reported_as_missed(env, reported, late, missed):
    tick = at("2030-01-01 10:00:00")
    schedule = make_schedule(env, cron="0 * * * *", next_run_at=tick)

    fire_due_schedules(now=tick + late)

    assert reported == ([("user-digest", schedule.pk, tick)] if missed else [])


def test_a_catch_up_after_skipped_ticks_is_reported_once(env, reported):
    schedule = make_schedule(env, next_run_at=at("2030-01-01 10:00:00"))

    for second in range(10):
        fire_due_schedules(now=at("2030-01-01 10:05:00") + timedelta(seconds=second))

    assert reported == [("user-digest", schedule.pk, at("2030-01-01 10:00:00"))]


def test_a_tick_another_beat_already_fired_is_not_reported(env, reported):
    tick = at("2030-01-01 10:00:00")
    schedule = make_schedule(env, next_run_at=tick)
    fire_due_schedules(now=tick)
    schedules.Schedule.objects.filter(pk=schedule.pk).update(next_run_at=tick)

    fire_due_schedules(now=tick + timedelta(minutes=5))

    assert reported == []


def test_a_schedule_is_overdue_once_its_tick_is_a_minute_old(env):
    tick = at("2030-01-01 10:00:00")
    schedule = make_schedule(env, next_run_at=tick)

    assert not is_overdue(schedule, tick + timedelta(seconds=59))
    assert is_overdue(schedule, tick + timedelta(seconds=60))
    schedule.active = False
    assert not is_overdue(schedule, tick + timedelta(hours=1))
