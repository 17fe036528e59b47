"""Public identifiers: a prefix, then 26 lowercase base32hex characters.

The first ten characters encode the creation time in milliseconds, so ids sort
in creation order and serve as the keyset of every list.
"""

from __future__ import annotations

import secrets
import time

ALPHABET = "0123456789abcdefghijklmnopqrstuv"
TIME_CHARS = 10
RANDOM_CHARS = 16


def _encode(value: int, width: int) -> str:
    chars = []
    for _ in range(width):
        chars.append(ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_id(prefix: str, at_ms: int | None = None) -> str:
    millis = int(time.time() * 1000) if at_ms is None else at_ms
    body = _encode(millis, TIME_CHARS) + _encode(secrets.randbits(RANDOM_CHARS * 5), RANDOM_CHARS)
    return f"{prefix}_{body}"


SCHEDULE_ALPHABET = "123456789abcdefghijkmnopqrstuvwxyz"
SCHEDULE_ID_CHARS = 21


def new_schedule_id() -> str:
    return "sched_" + "".join(secrets.choice(SCHEDULE_ALPHABET) for _ in range(SCHEDULE_ID_CHARS))


def new_bulk_action_id() -> str:
    return new_id("bulk")


def new_run_id() -> str:
    return new_id("run")


def new_batch_id() -> str:
    return new_id("batch")
