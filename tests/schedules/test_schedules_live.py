"""A schedule every minute on the live platform: real beat, real worker, real time.

This test takes about five minutes: three ticks, then beat stopped across two.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

import triggerkit
from runs.engine.schedules import mark_scheduled_tasks
from runs.models import ScheduleFire
from tests.live import poll
from triggerkit import RunStatus, runs, schedules

# How late after its tick a fire may come: beat ticks every 0.2 s in tests.
ON_TIME_SECONDS = 5


@pytest.fixture
def sdk(platform, live_project):
    # The live worker's task modules declare no @schedules.task: echo stands in
    # for one (it returns the schedule payload it is given).
    mark_scheduled_tasks(live_project.environments["DEVELOPMENT"], {"echo"})
    triggerkit.configure(live_project.dev, platform.url, retry_min_delay=0.05)
    yield live_project
    triggerkit.configure()


def wait_for_runs(schedule_id: str, count: int, timeout: float) -> list:
    """Wait until the schedule has `count` runs; return them, oldest first."""

    def enough():
        listed = list(runs.list(schedule=schedule_id))
        return listed if len(listed) >= count else None

    return sorted(poll(enough, timeout, interval=0.2), key=lambda run: run.created_at)


def tick_of(run) -> datetime:
    return datetime.fromisoformat(runs.retrieve(run.id).payload["timestamp"])


def sleep_until(moment: datetime) -> None:
    time.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()))


@pytest.mark.timeout(480)
def test_every_minute_fires_once_a_minute_and_catches_up_once_after_beat_was_down(
    sdk, platform
):
    schedule = schedules.create(
        task="echo", cron="* * * * *", deduplication_key="every-minute"
    )
    first_tick = schedule.next_run
    beat = next(process for process in platform.processes if process.name == "beat")
    try:
        # Given a schedule every minute, when three ticks pass
        fired = wait_for_runs(schedule.id, 3, timeout=240)

        # Then each tick fired once, on time, and each run received its payload
        beat.stop()
        ticks = [tick_of(run) for run in fired]
        assert ticks == [first_tick + timedelta(minutes=n) for n in range(3)]
        for run, tick in zip(fired, ticks, strict=True):
            assert (
                timedelta(0)
                <= run.created_at - tick
                < timedelta(seconds=ON_TIME_SECONDS)
            )
        for run in fired:
            done = runs.poll(run.id, interval=0.2, timeout=60)
            assert done.status is RunStatus.COMPLETED
            assert done.output["scheduleId"] == schedule.id
            assert done.output["timezone"] == "UTC"
            assert len(done.output["upcoming"]) == 5

        # Given beat stopped right after the third fire, when two ticks pass
        missed = [ticks[-1] + timedelta(minutes=n) for n in (1, 2)]
        sleep_until(missed[-1] + timedelta(seconds=3))
        assert len(list(runs.list(schedule=schedule.id))) == 3
        platform.processes.remove(beat)
        beat = platform.start_beat()

        # Then one catch-up run fires, for the first missed tick, and no more
        caught_up = wait_for_runs(schedule.id, 4, timeout=30)[-1]
        assert tick_of(caught_up) == missed[0]
        time.sleep(5)
        assert len(list(runs.list(schedule=schedule.id))) == 4
        assert ScheduleFire.objects.filter(schedule_id=schedule.id).count() == 4
        assert schedules.retrieve(schedule.id).next_run == missed[-1] + timedelta(
            minutes=1
        )
    finally:
        if beat.popen.poll() is not None:
            if beat in platform.processes:
                platform.processes.remove(beat)
            platform.start_beat()
        schedules.delete(schedule.id)
