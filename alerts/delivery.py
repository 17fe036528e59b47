"""Deciding to alert (at most once per task per interval) and sending the alert.

`raise_alert` runs after the engine's commit: it claims the task's interval,
records an Alert and publishes `triggerkit.send_alert`, which a worker runs to
POST the webhook and send the e-mails.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from alerts.models import Alert, AlertKind, AlertSettings, AlertThrottle

logger = logging.getLogger(__name__)

WEBHOOK_TIMEOUT_SECONDS = 5
WEBHOOK_ATTEMPTS = 3
WEBHOOK_RETRY_DELAY_SECONDS = 1.0
MESSAGE_MAX_CHARS = 1000
USER_AGENT = "Triggerkit-Alerts/1"


@dataclass(frozen=True)
class Event:
    kind: str
    environment_id: int
    task: str
    run_id: str = ""
    status: str = ""
    message: str = ""
    schedule_id: str = ""


def raise_alert(event: Event) -> Alert | None:
    """Record and publish an alert, unless the task alerted within the interval."""
    try:
        destinations = AlertSettings.objects.filter(
            environment_id=event.environment_id
        ).first()
        if destinations is None or not destinations.is_configured:
            return None
        suppressed = claim_interval(event.environment_id, event.task, event.kind)
        if suppressed is None:
            logger.info(
                "alert held back by the interval",
                extra={
                    "action": "alert_suppressed",
                    "run_id": event.run_id,
                    "task": event.task,
                },
            )
            return None
        alert = Alert.objects.create(
            environment_id=event.environment_id,
            kind=event.kind,
            task=event.task,
            run_id=event.run_id,
            status=event.status,
            message=event.message[:MESSAGE_MAX_CHARS],
            suppressed=suppressed,
            link=link_of(event),
        )
        publish(alert)
        return alert
    except Exception:  # noqa: BLE001 - alerting must never break the engine's caller
        logger.exception("alert could not be raised", extra={"action": "alert_failed"})
        return None


def claim_interval(
    environment_id: int, task: str, kind: str, now: datetime | None = None
) -> int | None:
    """Take the task's alert slot; return how many alerts it held back, or None.

    None means the task already alerted within TRIGGERKIT_ALERT_INTERVAL_SECONDS;
    that alert is then counted as held back, for the next one to report.
    """
    now = now or timezone.now()
    interval = timedelta(seconds=settings.TRIGGERKIT_ALERT_INTERVAL_SECONDS)
    with transaction.atomic():
        throttle, created = AlertThrottle.objects.select_for_update().get_or_create(
            environment_id=environment_id,
            task=task,
            kind=kind,
            defaults={"last_sent_at": now},
        )
        if created:
            return 0
        if throttle.last_sent_at > now - interval:
            AlertThrottle.objects.filter(pk=throttle.pk).update(
                suppressed=F("suppressed") + 1
            )
            return None
        AlertThrottle.objects.filter(pk=throttle.pk).update(
            last_sent_at=now, suppressed=0
        )
        return throttle.suppressed


def link_of(event: Event) -> str:
    if event.run_id:
        return f"{settings.SITE_URL}/runs/{event.run_id}"
    if event.schedule_id:
        return f"{settings.SITE_URL}/schedules/{event.schedule_id}"
    return f"{settings.SITE_URL}/alerts/"


def publish(alert: Alert) -> None:
    from alerts.tasks import send_alert

    try:
        send_alert.apply_async(args=[alert.pk], retry_policy={"max_retries": 2})
    except Exception:  # noqa: BLE001 - the alert row stays undelivered, visible on the page
        logger.exception(
            "alert could not be published",
            extra={"action": "alert_failed", "alert_id": alert.pk},
        )


def send_test(environment_id: int) -> Alert:
    """Record and publish a test alert, whatever the interval says."""
    alert = Alert.objects.create(
        environment_id=environment_id,
        kind=AlertKind.TEST,
        task="",
        message="A test alert from the Triggerkit settings page.",
        link=f"{settings.SITE_URL}/alerts/",
    )
    publish(alert)
    return alert


def deliver(alert_id: int) -> None:
    """POST the webhook and send the e-mails of one alert; record how it went."""
    alert = (
        Alert.objects.select_related("environment__project").filter(pk=alert_id).first()
    )
    if alert is None or alert.delivered_at is not None:
        return
    destinations = AlertSettings.objects.filter(
        environment_id=alert.environment_id
    ).first()
    if destinations is None:
        return

    errors = []
    if destinations.webhook_url:
        errors += post_webhook(destinations.webhook_url, payload(alert))
    if destinations.recipients:
        errors += send_emails(destinations.recipients, alert)
    Alert.objects.filter(pk=alert.pk).update(
        delivered_at=timezone.now() if not errors else None,
        delivery_error="\n".join(errors),
    )
    if errors:
        logger.warning(
            "alert not delivered",
            extra={"action": "alert_failed", "alert_id": alert.pk},
        )
    else:
        logger.info(
            "alert delivered", extra={"action": "alert_sent", "alert_id": alert.pk}
        )


def payload(alert: Alert) -> dict[str, Any]:
    environment = alert.environment
    data: dict[str, Any] = {
        "type": alert.kind,
        "project": environment.project.slug,
        "environment": environment.slug,
        "task": alert.task,
        "message": alert.message,
        "url": alert.link,
        "suppressed": alert.suppressed,
        "createdAt": alert.created_at.isoformat(),
    }
    if alert.run_id:
        data["run"] = {"id": alert.run_id, "status": alert.status, "url": alert.link}
    return data


def post_webhook(url: str, body: dict[str, Any]) -> list[str]:
    """POST the body, retrying network errors and 5xx twice; return the error, if any."""
    error = ""
    for attempt in range(1, WEBHOOK_ATTEMPTS + 1):
        try:
            response = httpx.post(
                url,
                json=body,
                timeout=WEBHOOK_TIMEOUT_SECONDS,
                headers={"User-Agent": USER_AGENT},
                follow_redirects=False,
            )
        except httpx.HTTPError as exc:
            error = f"webhook: {type(exc).__name__}: {exc}"
        else:
            if response.is_success:
                return []
            error = f"webhook: HTTP {response.status_code}"
            if response.status_code < 500:
                break
        if attempt < WEBHOOK_ATTEMPTS:
            time.sleep(WEBHOOK_RETRY_DELAY_SECONDS * attempt)
    return [error]


def send_emails(recipients: list[str], alert: Alert) -> list[str]:
    environment = alert.environment
    where = f"{environment.project.slug}/{environment.slug}"
    if alert.kind == AlertKind.RUN_FAILED:
        subject = f"[Triggerkit] {alert.task} {alert.status} in {where}"
    elif alert.kind == AlertKind.SCHEDULE_MISSED:
        subject = f"[Triggerkit] {alert.task}: schedule missed in {where}"
    else:
        subject = f"[Triggerkit] test alert for {where}"
    lines = [alert.message or subject, "", alert.link]
    if alert.suppressed:
        lines += [
            "",
            f"{alert.suppressed} more alerts of this task were held back since the last one.",
        ]
    try:
        send_mail(subject, "\n".join(lines), None, recipients)
    except Exception as exc:  # noqa: BLE001 - any mail backend error is reported, not raised
        return [f"email: {type(exc).__name__}: {exc}"]
    return []
