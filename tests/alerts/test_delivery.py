"""Deciding to alert and delivering: interval, e-mail, webhook errors."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from alerts import delivery
from alerts.models import Alert, AlertKind, AlertSettings
from tests.live import free_port


@pytest.fixture
def env(project):
    return project.environments["PRODUCTION"]


@pytest.fixture
def no_publish(monkeypatch):
    published = []
    monkeypatch.setattr(delivery, "publish", published.append)
    return published


def event(env, run_id="run_1", task="send-email"):
    return delivery.Event(
        kind=AlertKind.RUN_FAILED,
        environment_id=env.pk,
        task=task,
        run_id=run_id,
        status="CRASHED",
        message="worker lost",
    )


@pytest.mark.django_db
def test_the_interval_holds_back_alerts_of_the_same_task_and_counts_them(env, settings):
    settings.TRIGGERKIT_ALERT_INTERVAL_SECONDS = 600
    now = timezone.now()

    assert delivery.claim_interval(env.pk, "t", AlertKind.RUN_FAILED, now) == 0
    assert (
        delivery.claim_interval(
            env.pk, "t", AlertKind.RUN_FAILED, now + timedelta(minutes=5)
        )
        is None
    )
    assert (
        delivery.claim_interval(
            env.pk, "t", AlertKind.RUN_FAILED, now + timedelta(minutes=9)
        )
        is None
    )
    assert delivery.claim_interval(env.pk, "other", AlertKind.RUN_FAILED, now) == 0
    assert (
        delivery.claim_interval(
            env.pk, "t", AlertKind.RUN_FAILED, now + timedelta(minutes=11)
        )
        == 2
    )


@pytest.mark.django_db
def test_raise_alert_records_the_alert_with_a_link_to_the_run(
    env, settings, no_publish
):
    settings.SITE_URL = "https://jobs.example.com"
    AlertSettings.objects.create(environment=env, emails="ops@example.com")

    alert = delivery.raise_alert(event(env, run_id="run_abc"))

    assert alert.link == "https://jobs.example.com/runs/run_abc"
    assert no_publish == [alert]
    assert delivery.raise_alert(event(env, run_id="run_def")) is None


@pytest.mark.django_db
def test_deliver_emails_every_recipient(env, no_publish):
    AlertSettings.objects.create(
        environment=env, emails="ops@example.com,\noncall@example.com"
    )
    alert = delivery.raise_alert(event(env))

    delivery.deliver(alert.pk)

    [message] = mail.outbox
    assert message.to == ["ops@example.com", "oncall@example.com"]
    assert "send-email CRASHED" in message.subject
    assert alert.link in message.body
    assert Alert.objects.get(pk=alert.pk).delivered_at is not None


@pytest.mark.django_db
def test_an_unreachable_webhook_is_recorded_as_a_delivery_error(
    env, no_publish, monkeypatch
):
    monkeypatch.setattr(delivery, "WEBHOOK_RETRY_DELAY_SECONDS", 0)
    AlertSettings.objects.create(
        environment=env, webhook_url=f"http://127.0.0.1:{free_port()}/"
    )
    alert = delivery.raise_alert(event(env))

    delivery.deliver(alert.pk)

    alert.refresh_from_db()
    assert alert.delivered_at is None
    assert alert.delivery_error.startswith("webhook: ConnectError")


@pytest.mark.django_db
def test_a_broken_alert_setup_never_raises_into_the_engine(env, monkeypatch):
    def explode(*args):
        raise RuntimeError("boom")

    AlertSettings.objects.create(environment=env, webhook_url="https://example.com/")
    monkeypatch.setattr(delivery, "claim_interval", explode)

    assert delivery.raise_alert(event(env)) is None
