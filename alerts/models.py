"""Where each environment sends its alerts, and the alerts it sent."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from apikeys.models import Environment


class AlertKind(models.TextChoices):
    RUN_FAILED = (
        "run.failed"  # a run ended FAILED, CRASHED, SYSTEM_FAILURE or TIMED_OUT
    )
    SCHEDULE_MISSED = "schedule.missed"  # a schedule did not fire at its time
    TEST = "test"  # sent from the settings page to check the destinations


class AlertSettings(models.Model):
    environment = models.OneToOneField(
        Environment, on_delete=models.CASCADE, related_name="alert_settings"
    )
    webhook_url = models.URLField(max_length=500, blank=True)
    # Addresses separated by commas or new lines.
    emails = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    @property
    def recipients(self) -> list[str]:
        return [
            part.strip()
            for part in self.emails.replace("\n", ",").split(",")
            if part.strip()
        ]

    @property
    def is_configured(self) -> bool:
        return bool(self.webhook_url or self.recipients)


class AlertThrottle(models.Model):
    """When a task last alerted, and how many alerts were held back since."""

    environment = models.ForeignKey(Environment, on_delete=models.CASCADE)
    task = models.CharField(max_length=128)
    kind = models.CharField(max_length=32, choices=AlertKind.choices)
    last_sent_at = models.DateTimeField()
    suppressed = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["environment", "task", "kind"], name="one_throttle_per_task"
            )
        ]


class Alert(models.Model):
    """One alert sent (or being sent) to an environment's destinations."""

    environment = models.ForeignKey(Environment, on_delete=models.CASCADE)
    kind = models.CharField(max_length=32, choices=AlertKind.choices)
    task = models.CharField(max_length=128)
    run_id = models.CharField(max_length=40, blank=True)
    status = models.CharField(max_length=16, blank=True)
    message = models.TextField(blank=True)
    # Alerts of the same task held back by the interval before this one.
    suppressed = models.PositiveIntegerField(default=0)
    link = models.URLField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    delivery_error = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["environment", "-id"], name="alert_env_id")]
