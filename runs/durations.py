"""Durations and delays in the wire format: "1h30m", "90s", "2d", "1w" or a date."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

DURATION_PATTERN = re.compile(r"^(?:\d+(?:w|d|hr|h|m|s))+$")
DURATION_PART = re.compile(r"(\d+)(w|d|hr|h|m|s)")
UNIT_SECONDS = {"w": 604800, "d": 86400, "hr": 3600, "h": 3600, "m": 60, "s": 1}
MAX_DURATION_CHARS = 100


def parse_duration(text: str) -> timedelta | None:
    """Return the duration a string names, or None when it is not a duration."""
    if len(text) > MAX_DURATION_CHARS or not DURATION_PATTERN.match(text):
        return None
    seconds = sum(int(n) * UNIT_SECONDS[unit] for n, unit in DURATION_PART.findall(text))
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        return None  # Longer than any date can hold: not a usable duration.


def format_duration(seconds: int) -> str:
    """Render seconds the way the API shows TTLs ("1h2m3s", "10m")."""
    if seconds <= 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def parse_date(text: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt_timezone.utc)
    return parsed


def resolve_delay(value: str, now: datetime) -> datetime | None:
    """Return when a delayed run is due, None for no delay; raise ValueError if unreadable."""
    date = parse_date(value)
    if date is not None:
        return date if date > now else None
    duration = parse_duration(value)
    if duration is None:
        raise ValueError(f"Invalid delay: {value!r} is neither a duration nor a date")
    try:
        return now + duration if duration else None
    except OverflowError as exc:
        raise ValueError(f"Invalid delay: {value!r} is past the end of the calendar") from exc


def ttl_seconds(value: str | int | float) -> int:
    """Return a TTL in whole seconds; 0 means no TTL. Raise ValueError if unreadable."""
    if isinstance(value, bool):
        raise ValueError("ttl must be a duration string or a number of seconds")
    if isinstance(value, (int, float)):
        return max(0, int(value))
    duration = parse_duration(value)
    if duration is None:
        raise ValueError(f"Invalid ttl: {value!r}")
    return int(duration.total_seconds())
