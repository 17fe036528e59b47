"""The beat scheduler: promotes due runs, expires TTLs and sweeps, from the database.

Celery beat runs this scheduler (CELERY_BEAT_SCHEDULER). Each tick works on
rows directly instead of sending messages, so time-based work is never stuck
behind busy worker slots, and it never uses Celery's eta/countdown.
"""

from __future__ import annotations

import logging
import time

from celery.beat import PersistentScheduler
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from runs import engine, storage
from runs.engine import bulk, schedules, waits
from runs.models import Environment, Run, RunStatus, Waitpoint, WaitpointKind

logger = logging.getLogger(__name__)

SWEEP_INTERVAL_SECONDS = 5


def tick() -> None:
    """Promote due runs, expire stale ones and dispatch every waiting environment."""
    engine.promote_due_runs()
    engine.expire_runs()
    waits.resolve_due_waits()
    schedules.fire_due_schedules()
    for env_id in environments_with_queued_runs():
        engine.dispatch(env_id)


def seconds_until_next_due() -> float | None:
    """Return how soon the next delayed run, retry, wait or schedule is due, if any."""
    delayed = (
        Run.objects.filter(status__in=[RunStatus.DELAYED, RunStatus.RETRYING])
        .order_by("delay_until")
        .values_list("delay_until", flat=True)
        .first()
    )
    wait = (
        Waitpoint.objects.filter(kind=WaitpointKind.DURATION, resolved_at__isnull=True)
        .order_by("resume_at")
        .values_list("resume_at", flat=True)
        .first()
    )
    moments = (delayed, wait, schedules.next_fire_at())
    due = min((moment for moment in moments if moment is not None), default=None)
    if due is None:
        return None
    return max(0.0, (due - timezone.now()).total_seconds())


def sweep() -> None:
    engine.republish_lost_runs()
    engine.crash_stale_attempts()
    bulk.resume_stalled_bulk_actions()
    storage.sweep_orphans()


def environments_with_queued_runs() -> list[int]:
    return list(
        Environment.objects.filter(
            pk__in=Run.objects.filter(status=RunStatus.QUEUED).values("environment_id")
        ).values_list("pk", flat=True)
    )


class TriggerkitScheduler(PersistentScheduler):
    """Celery's persistent scheduler plus Triggerkit's own ticks."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.next_sweep = 0.0

    def tick(self, *args, **kwargs) -> float:
        wait = settings.TRIGGERKIT_TICK_SECONDS
        close_old_connections()
        try:
            tick()
            if time.monotonic() >= self.next_sweep:
                sweep()
                self.next_sweep = time.monotonic() + SWEEP_INTERVAL_SECONDS
            due_in = seconds_until_next_due()
            if due_in is not None:
                wait = min(wait, due_in)
        except Exception:  # noqa: BLE001 - beat must outlive a database hiccup
            logger.exception("beat tick failed", extra={"action": "tick_failed"})
        return min(super().tick(*args, **kwargs), wait)
