"""Bugs the fuzzers found, and how generated input steers clear of them.

Each bug is pinned by a case in test_input_edges.py, which now passes (the API
answers such values with a 400). The fuzzers still tame their input so that
they keep searching for new failures rather than revisiting these.
"""

from __future__ import annotations

import math
import re

OVERFLOW = (
    "numbers and durations beyond what timedelta/datetime or the integer columns hold "
    "(ttl, priority, maxDuration NaN, delay, idempotencyKeyTTL, filter[createdAt][period], "
    "reschedule delay) raise OverflowError, ValueError or DataError: an HTML 500"
)
LENGTHS = (
    "strings the schema accepts but the columns cannot hold (concurrencyKey > 128, "
    "payloadType > 64, a task id of 124-128 characters whose queue 'task/<id>' > 128) "
    "raise DataError: an HTML 500"
)
NUL = (
    "NUL characters reach PostgreSQL, whose text cannot hold them (run and batch ids in "
    "paths, list filters, tags, metadata keys, task ids): an HTML 500"
)
SURROGATE = (
    "JSON strings with a lone surrogate (\\ud800) become str that cannot be encoded as "
    "UTF-8, for the payload size check or the database: an HTML 500"
)

# Durations and seconds up to ten years stay clear of OVERFLOW.
SAFE_SECONDS = 10 * 365 * 86400
LONG_NUMBER = re.compile(r"\d{7,}")
DURATION_PART = re.compile(r"(\d+)(w|d|hr|h|m|s)")
DURATION_UNITS = {"w": 604800, "d": 86400, "hr": 3600, "h": 3600, "m": 60, "s": 1}
NUMBER_OPTIONS = ("ttl", "priority", "maxDuration")
DURATION_OPTIONS = ("ttl", "delay", "idempotencyKeyTTL")
COLUMN_LENGTHS = {"concurrencyKey": 128, "payloadType": 64}
# A task id this long overflows its default queue's name (LENGTHS).
TASK_ID_MAX = 123


def beyond_safe_duration(text: str) -> bool:
    """Whether a string names a duration past SAFE_SECONDS (or a number far too long)."""
    if LONG_NUMBER.search(text):
        return True
    seconds = sum(
        int(n) * DURATION_UNITS[unit] for n, unit in DURATION_PART.findall(text)
    )
    return seconds > SAFE_SECONDS


def tame_text(text: str) -> str:
    """Drop NUL characters and surrogates (NUL, SURROGATE)."""
    return text.replace("\x00", "").encode("utf-8", "ignore").decode("utf-8")


def tame(value):
    """tame_text every string of a JSON value, keys included."""
    if isinstance(value, str):
        return tame_text(value)
    if isinstance(value, list):
        return [tame(item) for item in value]
    if isinstance(value, dict):
        return {tame_text(key): tame(item) for key, item in value.items()}
    return value


def tame_options(options):
    """Keep trigger or replay options within what the columns and timedelta hold."""
    if not isinstance(options, dict):
        return options
    options = dict(options)
    for name in NUMBER_OPTIONS:
        value = options.get(name)
        is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if is_number and (not math.isfinite(value) or abs(value) > SAFE_SECONDS):
            options[name] = 60
    for name in DURATION_OPTIONS:
        value = options.get(name)
        if isinstance(value, str) and beyond_safe_duration(value):
            options[name] = "1h"
    for name, limit in COLUMN_LENGTHS.items():
        if isinstance(options.get(name), str):
            options[name] = options[name][:limit]
    return options


def tame_task_id(task_id):
    return task_id[:TASK_ID_MAX] if isinstance(task_id, str) else task_id


def tame_query(query):
    if not isinstance(query, dict):
        return query
    query = tame(query)
    period = query.get("filter[createdAt][period]")
    if isinstance(period, str) and beyond_safe_duration(period):
        query["filter[createdAt][period]"] = "1d"
    return query


def tame_body(body):
    """Tame a request body of any endpoint: trigger, batches, replay, reschedule."""
    if not isinstance(body, dict):
        return tame(body)
    body = tame(body)
    if isinstance(body.get("options"), dict):
        body["options"] = tame_options(body["options"])
    if isinstance(body.get("items"), list):
        body["items"] = [
            {
                **item,
                "task": tame_task_id(item.get("task")),
                "options": tame_options(item.get("options")),
            }
            if isinstance(item, dict)
            else item
            for item in body["items"]
        ]
    body.update(
        {key: value for key, value in tame_options(body).items() if key in body}
    )
    return body
