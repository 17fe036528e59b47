"""A side channel for "the task body started now", the same for every system.

The first line of each system's stamp task pushes its token and the time to
a Redis list; the bench pops it (BLPOP, no polling) and subtracts the time it
triggered. The push happens after the clock is read, so it costs nothing to
the figure.
"""

from __future__ import annotations

import os
import time

import redis

STAMPS_URL_ENV = "BENCH_STAMPS_REDIS_URL"
STAMPS_KEY = "bench:stamps"

_client: redis.Redis | None = None


def record(token: str) -> None:
    started = time.time()
    client().rpush(STAMPS_KEY, f"{token} {started!r}")


def client() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(os.environ[STAMPS_URL_ENV])
    return _client


def wait_for_stamp(channel: redis.Redis, timeout: float) -> tuple[str, float]:
    """Pop the next stamp: (token, epoch seconds)."""
    item = channel.blpop([STAMPS_KEY], timeout=timeout)
    if item is None:
        raise TimeoutError(f"no task started within {timeout}s")
    token, started = item[1].decode().split()
    return token, float(started)
