"""Public identifiers: a prefix, then 26 lowercase base32hex characters.

The first ten characters encode the creation time in milliseconds, so ids sort
in creation order and serve as the keyset of every list. Within one process
the order is strict: an id made in the same millisecond as the one before it
(or after the clock stepped back) takes that id's time and its random part
plus one, as ULID's monotonic mode does.
"""

from __future__ import annotations

import secrets
import threading
import time

ALPHABET = "0123456789abcdefghijklmnopqrstuv"
TIME_CHARS = 10
RANDOM_CHARS = 16
RANDOM_BITS = RANDOM_CHARS * 5

_last_lock = threading.Lock()
_last: tuple[int, int] = (0, 0)  # the time and random part of this process's latest id


def _encode(value: int, width: int) -> str:
    chars = []
    for _ in range(width):
        chars.append(ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_id(prefix: str, at_ms: int | None = None) -> str:
    """A new id; `at_ms` backdates it (with a random part, no ordering promise)."""
    if at_ms is not None:
        millis, random = at_ms, secrets.randbits(RANDOM_BITS)
    else:
        millis, random = next_time_and_random()
    return f"{prefix}_{_encode(millis, TIME_CHARS)}{_encode(random, RANDOM_CHARS)}"


def now_ms() -> int:
    return int(time.time() * 1000)


def next_time_and_random() -> tuple[int, int]:
    global _last
    with _last_lock:
        millis = now_ms()
        last_millis, last_random = _last
        if millis > last_millis:
            random = secrets.randbits(RANDOM_BITS)
        elif last_random + 1 < 1 << RANDOM_BITS:
            millis, random = last_millis, last_random + 1
        else:
            millis, random = last_millis + 1, 0
        _last = (millis, random)
        return _last


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
