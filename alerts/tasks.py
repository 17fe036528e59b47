"""Celery task that delivers alerts; it takes an id and calls the delivery service."""

from __future__ import annotations

from celery import shared_task
from django.db import close_old_connections


@shared_task(name="triggerkit.send_alert", ignore_result=True)
def send_alert(alert_id: int) -> None:
    from alerts import delivery

    close_old_connections()
    try:
        delivery.deliver(alert_id)
    finally:
        close_old_connections()
