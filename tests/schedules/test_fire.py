"""Beat firing schedules, with a clock the tests control: fire_due_schedules(now=…)."""

import json
import threading
from datetime import timedelta

import pytest
from django.db import connection

from runs.engine import schedules
from runs.engine.schedules import fire_due_schedules
from runs.models import Run, RunStatus, Schedule, ScheduleFire
from tests.conftest import create_test_project
from tests.schedules.conftest import at, make_schedule, register_scheduled_tasks


def runs_of(schedule):
    return list(Run.objects.filter(schedule=schedule).order_by("created_at", "id"))


def payloads_of(schedule):
    return [json.loads(run.payload) for run in runs_of(schedule)]


def beat(start, end, every=timedelta(seconds=1)):
    """Call fire_due_schedules as a beat ticking from start to end would."""
    now = start
    while now <= end:
        fire_due_schedules(now=now)
        now += every


def test_an_every_minute_schedule_fires_once_a_minute_over_three_minutes(env):
    schedule = make_schedule(env, next_run_at=at("2030-01-01 10:00:00"))

    # Given a beat ticking every second, when three minutes pass
    beat(at("2030-01-01 09:59:59"), at("2030-01-01 10:02:59"))

    # Then there is one run a minute, each telling its own tick
    payloads = payloads_of(schedule)
    assert [p["timestamp"] for p in payloads] == [
        "2030-01-01T10:00:00.000Z",
        "2030-01-01T10:01:00.000Z",
        "2030-01-01T10:02:00.000Z",
    ]
    assert [p.get("lastTimestamp") for p in payloads] == [
        None,
        "2030-01-01T10:00:00.000Z",
        "2030-01-01T10:01:00.000Z",
    ]
    assert ScheduleFire.objects.filter(schedule=schedule).count() == 3
    schedule.refresh_from_db()
    assert schedule.next_run_at == at("2030-01-01 10:03:00")
    assert schedule.last_run_at == at("2030-01-01 10:02:00")


def test_a_fired_run_carries_the_schedule_payload(env):
    schedule = make_schedule(
        env,
        cron="0 9 * * *",
        timezone="Europe/Paris",
        external_id="user-42",
        next_run_at=at("2030-01-07 08:00:00"),
    )

    fired = fire_due_schedules(now=at("2030-01-07 08:00:00.250000"))

    assert fired >= 1
    [run] = runs_of(schedule)
    assert (run.task_identifier, run.status, run.schedule_id) == (
        "user-digest",
        RunStatus.QUEUED,
        schedule.pk,
    )
    assert json.loads(run.payload) == {
        "scheduleId": schedule.pk,
        "type": "IMPERATIVE",
        "timestamp": "2030-01-07T08:00:00.000Z",
        "externalId": "user-42",
        "timezone": "Europe/Paris",
        "upcoming": [f"2030-01-{day:02}T08:00:00.000Z" for day in range(8, 13)],
    }
    fire = ScheduleFire.objects.get(schedule=schedule)
    assert (fire.scheduled_for, fire.run_id) == (at("2030-01-07 08:00:00"), run.pk)


def test_a_beat_down_for_two_minutes_fires_one_catch_up_run_not_two(env):
    schedule = make_schedule(env, next_run_at=at("2030-01-01 10:00:00"))
    beat(at("2030-01-01 10:00:00"), at("2030-01-01 10:00:30"))

    # Given beat is down from 10:00:30 to 10:02:30 (ticks 10:01 and 10:02 missed)
    # When it comes back and ticks on
    beat(at("2030-01-01 10:02:30"), at("2030-01-01 10:02:59"))

    # Then the missed ticks give one run, stamped with the first missed tick
    stamps = [p["timestamp"] for p in payloads_of(schedule)]
    assert stamps == ["2030-01-01T10:00:00.000Z", "2030-01-01T10:01:00.000Z"]
    # and the schedule goes on from the next tick after now, not from the backlog
    schedule.refresh_from_db()
    assert schedule.next_run_at == at("2030-01-01 10:03:00")
    upcoming = payloads_of(schedule)[-1]["upcoming"]
    assert upcoming[0] == "2030-01-01T10:03:00.000Z"

    beat(at("2030-01-01 10:03:00"), at("2030-01-01 10:03:05"))
    assert len(runs_of(schedule)) == 3


def test_a_tick_already_recorded_never_fires_again(env):
    tick = at("2030-01-01 10:00:00")
    schedule = make_schedule(env, next_run_at=tick)
    fire_due_schedules(now=tick)

    # A beat working from a stale next_run_at (as if the advance were lost)
    Schedule.objects.filter(pk=schedule.pk).update(next_run_at=tick)
    fire_due_schedules(now=tick + timedelta(seconds=2))

    assert len(runs_of(schedule)) == 1
    schedule.refresh_from_db()
    assert schedule.next_run_at == at("2030-01-01 10:01:00")


def test_an_inactive_schedule_does_not_fire(env):
    schedule = make_schedule(env, next_run_at=at("2030-01-01 10:00:00"))
    schedules.set_schedule_active(schedule, False)

    beat(
        at("2030-01-01 10:00:00"),
        at("2030-01-01 10:03:00"),
        every=timedelta(seconds=20),
    )

    assert runs_of(schedule) == []


def test_a_schedule_of_a_task_no_worker_knows_waits_for_a_worker(env):
    schedule = make_schedule(env, next_run_at=at("2030-01-01 10:00:00"))
    Schedule.objects.filter(pk=schedule.pk).update(task_identifier="gone-task")

    fire_due_schedules(now=at("2030-01-01 10:00:01"))

    [run] = runs_of(schedule)
    assert (run.task_identifier, run.status) == ("gone-task", RunStatus.PENDING_VERSION)


def test_one_failing_schedule_does_not_stop_the_others(env, monkeypatch):
    tick = at("2030-01-01 10:00:00")
    broken = make_schedule(env, next_run_at=tick, key="broken")
    healthy = make_schedule(env, next_run_at=tick + timedelta(seconds=1), key="healthy")
    real_trigger = schedules.trigger_scheduled_run

    def trigger(schedule, *args):
        if schedule.pk == broken.pk:
            raise RuntimeError("storage is down")
        return real_trigger(schedule, *args)

    monkeypatch.setattr(schedules, "trigger_scheduled_run", trigger)
    fire_due_schedules(now=tick + timedelta(seconds=2))

    assert len(runs_of(healthy)) == 1
    # The broken one stays due, with no fire recorded, and fires once it can.
    broken.refresh_from_db()
    assert broken.next_run_at == tick
    assert not ScheduleFire.objects.filter(schedule=broken).exists()
    monkeypatch.setattr(schedules, "trigger_scheduled_run", real_trigger)
    fire_due_schedules(now=tick + timedelta(seconds=3))
    assert len(runs_of(broken)) == 1


def test_the_next_fire_time_tells_beat_when_to_wake(env):
    make_schedule(env, next_run_at=at("2030-01-01 10:00:00"), key="a")
    make_schedule(env, next_run_at=at("2030-01-01 09:00:00"), key="b")
    inactive = make_schedule(env, next_run_at=at("2030-01-01 08:00:00"), key="c")
    schedules.set_schedule_active(inactive, False)

    assert schedules.next_fire_at() <= at("2030-01-01 09:00:00")


@pytest.fixture
def committed_env(live_db):
    """An environment committed to the database, so that several connections see it."""
    project = create_test_project()
    environment = project.environments["PRODUCTION"]
    register_scheduled_tasks([environment])
    yield environment
    Run.objects.filter(environment=environment).delete()
    Schedule.objects.filter(environment=environment).delete()


def test_two_beats_firing_the_same_ticks_at_once_create_one_run_per_tick(committed_env):
    tick = at("2031-06-01 10:00:00")
    due = [
        make_schedule(committed_env, next_run_at=tick, key=f"race-{n}")
        for n in range(20)
    ]
    # A task no worker knows: the runs wait, and nothing is executed.
    Schedule.objects.filter(pk__in=[s.pk for s in due]).update(
        task_identifier="race-task"
    )
    start = threading.Barrier(2)
    fired = []

    def beat_process():
        try:
            start.wait()
            for schedule in due:
                fired.append(
                    schedules.fire_schedule(schedule.pk, tick + timedelta(seconds=1))
                )
        finally:
            connection.close()

    # Given two beats on their own connections, when both fire the same 20 ticks
    beats = [threading.Thread(target=beat_process) for _ in range(2)]
    for thread in beats:
        thread.start()
    for thread in beats:
        thread.join()

    # Then each tick fired once, by one beat or the other
    assert fired.count(True) == 20
    runs = Run.objects.filter(schedule__in=due)
    assert sorted(runs.values_list("schedule_id", flat=True)) == sorted(
        s.pk for s in due
    )
    assert ScheduleFire.objects.filter(schedule__in=due).count() == 20
    assert not Schedule.objects.filter(
        pk__in=[s.pk for s in due], next_run_at=tick
    ).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        pytest.param(
            lambda: schedules.due_schedules(at("2030-01-01 10:00:00")), id="due"
        ),
        pytest.param(lambda: schedules.active_ticks()[:1], id="next"),
    ],
)
def test_beat_reads_schedules_from_the_due_index(query):
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    plan = query().values_list("pk", flat=True).explain()

    assert "schedule_due" in plan, plan
    assert "Seq Scan" not in plan, plan
