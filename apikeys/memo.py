"""What a process remembers for a few seconds, to spare a query per request."""

from __future__ import annotations

import time
from collections.abc import Hashable
from typing import Generic, TypeVar

Value = TypeVar("Value")


class Memo(Generic[Value]):
    """Values by key, each forgotten `seconds` after it was remembered.

    The threads of a process share it: each step is one dict operation, which
    the GIL makes atomic. Entries that lapsed are dropped when a new one comes.
    """

    def __init__(self) -> None:
        self._entries: dict[Hashable, tuple[float, Value]] = {}

    def get(self, key: Hashable) -> Value | None:
        entry = self._entries.get(key)
        if entry is None or time.monotonic() >= entry[0]:
            return None
        return entry[1]

    def remember(self, key: Hashable, value: Value, seconds: float) -> None:
        if seconds <= 0:
            return
        now = time.monotonic()
        for other, (lapses_at, _) in list(self._entries.items()):
            if lapses_at <= now:
                self._entries.pop(other, None)
        self._entries[key] = (now + seconds, value)

    def clear(self) -> None:
        self._entries.clear()
