"""Tasks the storage tests run on their own platforms."""

from __future__ import annotations

from triggerkit import Retry, task

PATTERN = "0123456789abcdefghijklmnopqrstuvwxyz"


def pattern(size: int) -> str:
    """A string of exactly `size` ASCII characters that the tests can rebuild."""
    repeats = size // len(PATTERN) + 1
    return (PATTERN * repeats)[:size]


@task(id="storage-big-output", retry=Retry(max_attempts=1))
def big_output(payload: dict) -> str:
    """Return `size` characters: an output far larger than the payload."""
    return pattern(int(payload["size"]))


@task(id="storage-payload-size", retry=Retry(max_attempts=1))
def payload_size(payload: object) -> dict:
    """Report what the task received, without echoing it."""
    text = payload if isinstance(payload, str) else repr(payload)
    return {"type": type(payload).__name__, "length": len(text)}
