"""A schedule that misses its time calls the webhook, once per task per interval.

Beat is driven with a clock the test controls (fire_due_schedules(now=…)), the
alert's Celery task runs in-process, and a local server receives the webhook.
"""

from datetime import timedelta

import pytest

from alerts import delivery
from alerts.models import Alert, AlertKind, AlertSettings, AlertThrottle
from runs.engine.schedules import fire_due_schedules
from runs.models import Run
from tests.schedules.conftest import at, make_schedule, register_scheduled_tasks


@pytest.fixture
def env(project, webhook, settings, monkeypatch):
    """Development with scheduled tasks, its webhook set, alerts delivered at once."""
    settings.SITE_URL = "https://jobs.example.com"
    settings.TRIGGERKIT_ALERT_INTERVAL_SECONDS = 3600
    register_scheduled_tasks(list(project.environments.values()))
    environment = project.environments["DEVELOPMENT"]
    port = webhook.server_address[1]
    AlertSettings.objects.create(
        environment=environment, webhook_url=f"http://127.0.0.1:{port}/hook"
    )
    # What the worker running triggerkit.send_alert does, done here.
    monkeypatch.setattr(delivery, "publish", lambda alert: delivery.deliver(alert.pk))
    return environment


@pytest.fixture
def beat(django_capture_on_commit_callbacks):
    """Beat ticking every second from start to end, its commits' callbacks run."""

    def tick(start, end, every=timedelta(seconds=1)):
        now = start
        while now <= end:
            with django_capture_on_commit_callbacks(execute=True):
                fire_due_schedules(now=now)
            now += every

    return tick


def test_a_schedule_fired_on_time_sends_no_alert(env, beat, webhook):
    schedule = make_schedule(env, next_run_at=at("2030-01-01 10:00:00"))

    beat(at("2030-01-01 10:00:00"), at("2030-01-01 10:02:30"))

    assert Run.objects.filter(schedule=schedule).count() == 3
    assert webhook.received == []
    assert not Alert.objects.filter(environment=env).exists()


def test_a_missed_schedule_calls_the_webhook_once(env, beat, webhook):
    schedule = make_schedule(env, next_run_at=at("2030-01-01 10:00:00"))
    beat(at("2030-01-01 10:00:00"), at("2030-01-01 10:00:10"))

    # Given beat is down from 10:00:10 to 10:03:30 (ticks 10:01 to 10:03 missed)
    # When it comes back and fires the catch-up run
    beat(at("2030-01-01 10:03:30"), at("2030-01-01 10:03:40"))

    # Then the webhook hears of the miss once, with a link to the schedule
    [call] = webhook.received
    body = call["body"]
    assert body["type"] == "schedule.missed"
    assert body["task"] == "user-digest"
    assert body["environment"] == "dev"
    assert body["url"] == f"https://jobs.example.com/schedules/{schedule.pk}"
    assert body["message"] == (
        f"Schedule {schedule.pk} missed its fire at 2030-01-01T10:01:00+00:00"
    )
    assert "run" not in body

    # And when beat is down again within the alert interval
    beat(at("2030-01-01 10:07:30"), at("2030-01-01 10:07:31"))

    # Then the second miss is held back and counted, not sent
    assert len(webhook.received) == 1
    throttle = AlertThrottle.objects.get(
        environment=env, task="user-digest", kind=AlertKind.SCHEDULE_MISSED
    )
    assert throttle.suppressed == 1
    assert Run.objects.filter(schedule=schedule).count() == 3


def test_a_daily_fire_more_than_a_minute_late_counts_as_missed(env, beat, webhook):
    schedule = make_schedule(
        env, cron="0 3 * * *", next_run_at=at("2030-01-01 03:00:00")
    )

    # Beat was down at 03:00 and comes back at 03:05: no tick was skipped,
    # but the run comes five minutes late.
    beat(at("2030-01-01 03:05:00"), at("2030-01-01 03:05:00"))

    assert Run.objects.filter(schedule=schedule).count() == 1
    [call] = webhook.received
    body = call["body"]
    assert body["type"] == "schedule.missed"
