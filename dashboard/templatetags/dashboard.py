"""Template helpers: times in the viewer's zone, durations, JSON, status badges."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from dashboard.filters import STATUS_LABELS
from runs import packets
from runs.durations import format_duration
from runs.models import RunStatus

register = template.Library()

UTC_FORMAT = "%Y-%m-%d %H:%M:%S UTC"
# Internal statuses the filters do not name separately.
EXTRA_LABELS = {RunStatus.RETRYING: "Retrying"}
TONES = {
    RunStatus.COMPLETED: "ok",
    RunStatus.FAILED: "bad",
    RunStatus.CRASHED: "bad",
    RunStatus.SYSTEM_FAILURE: "bad",
    RunStatus.TIMED_OUT: "bad",
    RunStatus.CANCELED: "muted",
    RunStatus.EXPIRED: "muted",
    RunStatus.EXECUTING: "live",
    RunStatus.DEQUEUED: "live",
    RunStatus.RETRYING: "warn",
    RunStatus.WAITING: "wait",
    RunStatus.DELAYED: "wait",
    RunStatus.QUEUED: "wait",
    RunStatus.PENDING_VERSION: "warn",
}


@register.filter
def moment(value: datetime | None, style: str = "datetime"):
    """A <time> element in UTC that the page's script shows in the viewer's zone."""
    if value is None:
        return mark_safe('<span class="none">–</span>')
    utc = value.astimezone(UTC)
    return format_html(
        '<time datetime="{}" data-local="{}" title="{}">{}</time>',
        utc.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        style,
        utc.strftime(UTC_FORMAT),
        utc.strftime(UTC_FORMAT),
    )


@register.filter
def duration(value: timedelta | float | int | None) -> str:
    """A short human duration: 850ms, 4.2s, 3m 5s, 2h 10m, 3d 4h."""
    if value is None:
        return "–"
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds < 1:
        return f"{max(0, round(seconds * 1000))}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"


@register.filter
def elapsed_since(end: datetime | None, start: datetime | None) -> str:
    if end is None or start is None:
        return "–"
    return duration(end - start)


@register.filter
def run_duration(run) -> str:
    if run.started_at is None:
        return "–"
    end = run.finished_at or timezone.now()
    return duration(end - run.started_at)


@register.filter
def status_label(status: str) -> str:
    return EXTRA_LABELS.get(status) or STATUS_LABELS.get(status, status.title())


@register.filter
def status_badge(status: str):
    return format_html(
        '<span class="badge tone-{}" data-status="{}">{}</span>',
        TONES.get(status, "muted"),
        status,
        status_label(status),
    )


@register.filter
def pretty_packet(data: str | None, data_type: str = packets.JSON) -> str:
    """A stored payload or output as indented JSON (or as its text)."""
    if data is None:
        return ""
    try:
        value = packets.decode(data, data_type)
    except packets.PacketError:
        return data
    if isinstance(value, str) and data_type == packets.TEXT:
        return value
    return json.dumps(value, indent=2, ensure_ascii=False)


@register.filter
def pretty_json(value) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


@register.filter
def number(value: int | None) -> str:
    return "–" if value is None else f"{value:,}"


@register.filter
def percent(value: float | None) -> str:
    if value is None:
        return "–"
    if 0 < value < 0.01:
        return "<1%"
    return f"{value:.0%}"


@register.filter
def ttl(value: int | None) -> str:
    """A time to live the way it is written when triggering: 10m, 1h30m."""
    return format_duration(value) if value else "–"


@register.filter
def seconds_label(value: int | None) -> str:
    return "–" if not value else duration(value)


@register.filter
def get_item(mapping: dict, key: str):
    return mapping.get(key)
