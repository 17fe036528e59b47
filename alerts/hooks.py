"""What the run engine and the scheduler call when something deserves an alert.

Both only register work for after the commit: the engine's transaction is never
slowed down or broken by alerting.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from django.db import transaction

if TYPE_CHECKING:
    from runs.models import Run

logger = logging.getLogger(__name__)

ALERT_STATUSES = frozenset({"FAILED", "CRASHED", "SYSTEM_FAILURE", "TIMED_OUT"})


def run_failed(run: Run, status: str, error: dict | None = None) -> None:
    """Alert, once committed, if the run just ended in a failure status."""
    if status not in ALERT_STATUSES:
        return
    from alerts import delivery
    from alerts.models import AlertKind

    event = delivery.Event(
        kind=AlertKind.RUN_FAILED,
        environment_id=run.environment_id,
        task=run.task_identifier,
        run_id=run.pk,
        status=status,
        message=str((error or {}).get("message", "")),
    )
    transaction.on_commit(lambda: delivery.raise_alert(event), robust=True)


def schedule_missed(
    environment_id: int, task: str, schedule_id: str, scheduled_for: datetime
) -> None:
    """Alert, once committed, that a schedule did not fire at `scheduled_for`."""
    from alerts import delivery
    from alerts.models import AlertKind

    event = delivery.Event(
        kind=AlertKind.SCHEDULE_MISSED,
        environment_id=environment_id,
        task=task,
        schedule_id=schedule_id,
        message=f"Schedule {schedule_id} missed its fire at {scheduled_for.isoformat()}",
    )
    transaction.on_commit(lambda: delivery.raise_alert(event), robust=True)
