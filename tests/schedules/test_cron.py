"""Cron expressions and time zones: validation, fire times, daylight saving, words."""

import json
import re
from datetime import timedelta

import pytest

from runs.engine import UnprocessableError, schedules
from runs.engine.schedules import (
    check_cron,
    check_timezone,
    describe_cron,
    fire_due_schedules,
    next_fire_times,
)
from runs.models import Run, Schedule
from tests.schedules.conftest import at, make_schedule


@pytest.mark.parametrize(
    ("expression", "normalised"),
    [
        ("* * * * *", "* * * * *"),
        (" 0  9 * *   1-5 ", "0 9 * * 1-5"),
        ("*/15 9-17 * * mon-fri", "*/15 9-17 * * mon-fri"),
        ("0 0 L * *", "0 0 L * *"),
        ("0 12 1 jan,jul *", "0 12 1 jan,jul *"),
    ],
)
def test_five_field_expressions_are_accepted(expression, normalised):
    assert check_cron(expression) == normalised


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("0 * * * * *", "CRON expressions with seconds are not allowed"),
        ("0 0 * * * * 2030", "CRON expressions with seconds are not allowed"),
        ("@daily", "it needs five fields"),
        ("* * * *", "it needs five fields"),
        ("", "it needs five fields"),
        ("60 * * * *", "Invalid cron expression '60 * * * *'"),
        ("* 24 * * *", "Invalid cron expression"),
        ("* * * 13 *", "Invalid cron expression"),
        ("* * * * funday", "Invalid cron expression"),
        ("0 0 31 2 *", "Invalid cron expression '0 0 31 2 *': it never fires"),
    ],
)
def test_other_expressions_are_refused_with_a_clear_message(expression, message):
    with pytest.raises(UnprocessableError, match=re.escape(message)):
        check_cron(expression)


@pytest.mark.parametrize(
    "name", ["UTC", "Europe/Paris", "America/Argentina/Buenos_Aires", "Etc/GMT+2"]
)
def test_iana_zones_are_accepted(name):
    assert check_timezone(name) == name


@pytest.mark.parametrize(
    "name", ["Mars/Olympus", "europe/paris", "CEST", "+02:00", "localtime", ""]
)
def test_other_zones_are_refused(name):
    with pytest.raises(UnprocessableError, match="Invalid timezone"):
        check_timezone(name)


def test_the_zone_list_is_sorted_canonical_names_after_utc():
    zones = schedules.list_timezones()

    assert zones[0] == "UTC"
    assert zones[1:] == sorted(zones[1:])
    assert all(
        "/" in zone and not zone.startswith(("Etc/", "US/")) for zone in zones[1:]
    )
    assert set(zones) <= schedules.known_timezones()
    assert schedules.list_timezones(exclude_utc=True) == zones[1:]


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("* * * * *", "Every minute"),
        ("0 * * * *", "Every hour"),
        ("0 9 * * *", "At 09:00 AM"),
        ("*/5 * * * 1-5", "Every 5 minutes, Monday through Friday"),
        ("0 0 L * *", "At 12:00 AM, on the last day of the month"),
    ],
)
def test_a_cron_is_described_in_words(expression, words):
    assert describe_cron(expression) == words


def test_the_next_fire_times_are_strictly_after_the_instant_given():
    assert next_fire_times("* * * * *", "UTC", at("2030-01-01 10:00:00"), 2) == [
        at("2030-01-01 10:01:00"),
        at("2030-01-01 10:02:00"),
    ]
    assert next_fire_times("0 9 * * *", "Asia/Tokyo", at("2030-01-01 10:00:00")) == [
        at("2030-01-02 00:00:00")
    ]


def fire_until(schedule, end):
    """An on-time beat: fire each tick one second after it, until `end`."""
    while True:
        schedule.refresh_from_db()
        if schedule.next_run_at > end:
            break
        fire_due_schedules(now=schedule.next_run_at + timedelta(seconds=1))
    return [
        json.loads(payload)["timestamp"]
        for payload in Run.objects.filter(schedule=schedule)
        .order_by("created_at", "id")
        .values_list("payload", flat=True)
    ]


def paris_schedule(env, cron, first_tick):
    return make_schedule(
        env, cron=cron, timezone="Europe/Paris", next_run_at=at(first_tick)
    )


def test_a_paris_morning_schedule_keeps_its_local_time_across_the_spring_change(env):
    # Europe/Paris goes from UTC+1 to UTC+2 on Sunday 31 March 2030 at 02:00.
    schedule = paris_schedule(env, "0 9 * * *", "2030-03-29 08:00:00")

    fired = fire_until(schedule, at("2030-04-01 12:00:00"))

    assert fired == [
        "2030-03-29T08:00:00.000Z",
        "2030-03-30T08:00:00.000Z",
        "2030-03-31T07:00:00.000Z",
        "2030-04-01T07:00:00.000Z",
    ]


def test_a_local_time_skipped_in_spring_fires_once_right_after_the_gap(env):
    # 02:30 does not exist in Paris on 31 March 2030; croniter fires at 03:00 CEST.
    schedule = paris_schedule(env, "30 2 * * *", "2030-03-30 01:30:00")

    fired = fire_until(schedule, at("2030-04-01 12:00:00"))

    assert fired == [
        "2030-03-30T01:30:00.000Z",
        "2030-03-31T01:00:00.000Z",
        "2030-04-01T00:30:00.000Z",
    ]


def test_an_hourly_schedule_fires_every_real_hour_across_the_autumn_change(env):
    # Europe/Paris goes back from UTC+2 to UTC+1 on Sunday 27 October 2030 at 03:00.
    schedule = paris_schedule(env, "0 * * * *", "2030-10-26 23:00:00")

    fired = fire_until(schedule, at("2030-10-27 03:00:00"))

    assert fired == [
        "2030-10-26T23:00:00.000Z",
        "2030-10-27T00:00:00.000Z",
        "2030-10-27T01:00:00.000Z",
        "2030-10-27T02:00:00.000Z",
        "2030-10-27T03:00:00.000Z",
    ]


def test_a_local_time_repeated_in_autumn_fires_at_both_instants_as_croniter_does(env):
    # 02:30 happens twice in Paris on 27 October 2030: at 00:30 and 01:30 UTC.
    schedule = paris_schedule(env, "30 2 * * *", "2030-10-26 00:30:00")

    fired = fire_until(schedule, at("2030-10-28 12:00:00"))

    assert fired == [
        "2030-10-26T00:30:00.000Z",
        "2030-10-27T00:30:00.000Z",
        "2030-10-27T01:30:00.000Z",
        "2030-10-28T01:30:00.000Z",
    ]


def test_the_upcoming_times_of_a_paris_schedule_follow_the_zone(env):
    schedule = paris_schedule(env, "0 9 * * *", "2030-03-29 08:00:00")

    fire_due_schedules(now=at("2030-03-29 08:00:01"))

    payload = json.loads(Run.objects.get(schedule=schedule).payload)
    assert payload["upcoming"] == [
        "2030-03-30T08:00:00.000Z",
        "2030-03-31T07:00:00.000Z",
        "2030-04-01T07:00:00.000Z",
        "2030-04-02T07:00:00.000Z",
        "2030-04-03T07:00:00.000Z",
    ]
    assert Schedule.objects.get(pk=schedule.pk).next_run_at == at("2030-03-30 08:00:00")


def test_a_schedule_lists_its_next_five_times_while_active(env):
    schedule = make_schedule(env, cron="0 9 * * *", timezone="Europe/Paris")

    assert schedules.upcoming(schedule, now=at("2030-03-29 12:00:00")) == [
        at("2030-03-30 08:00:00"),
        at("2030-03-31 07:00:00"),
        at("2030-04-01 07:00:00"),
        at("2030-04-02 07:00:00"),
        at("2030-04-03 07:00:00"),
    ]
    schedules.set_schedule_active(schedule, False)
    schedule.refresh_from_db()
    assert schedules.upcoming(schedule) == []
