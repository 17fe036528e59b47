"""Pausing a task for a while without holding a worker or a concurrency slot.

The run is suspended and re-executed when the time comes; code before the wait
runs again then, and waits must be reached in the same order every time.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from triggerkit._subtasks import waiting


def for_(*, seconds: float = 0, minutes: float = 0, hours: float = 0, days: float = 0) -> None:
    """Wait for a duration (only inside a task)."""
    delta = timedelta(seconds=seconds, minutes=minutes, hours=hours, days=days)
    with waiting("wait.for_") as runtime:
        runtime.wait_until(datetime.now(timezone.utc) + delta)


def until(moment: datetime) -> None:
    """Wait until a point in time (only inside a task); naive datetimes are UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    with waiting("wait.until") as runtime:
        runtime.wait_until(moment)


async def for_async(
    *, seconds: float = 0, minutes: float = 0, hours: float = 0, days: float = 0
) -> None:
    """Like `for_`, inside an async task."""
    delta = timedelta(seconds=seconds, minutes=minutes, hours=hours, days=days)
    with waiting("wait.for_async") as runtime:
        await asyncio.sleep(0)
        runtime.wait_until(datetime.now(timezone.utc) + delta)


async def until_async(moment: datetime) -> None:
    """Like `until`, inside an async task."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    with waiting("wait.until_async") as runtime:
        await asyncio.sleep(0)
        runtime.wait_until(moment)
