"""Read and update the metadata of the run this task is executing.

Every update is written at once, so `runs.retrieve` shows it while the run
executes. Metadata is a JSON object of at most 256 KB.
"""

from __future__ import annotations

from typing import Any

from triggerkit._runtime import require_runtime


def _apply(operation: dict[str, Any]) -> dict[str, Any]:
    return require_runtime(f"metadata.{operation['op']}").update_metadata([operation])


def current() -> dict[str, Any]:
    """Return the whole metadata object of the current run."""
    return require_runtime("metadata.current").update_metadata([])


def get(key: str, default: Any = None) -> Any:
    """Return one key of the current run's metadata."""
    return current().get(key, default)


def set(key: str, value: Any) -> dict[str, Any]:  # noqa: A001 - mirrors metadata.set
    """Set one key; returns the metadata after the change."""
    return _apply({"op": "set", "key": key, "value": value})


def delete(key: str) -> dict[str, Any]:
    """Remove one key."""
    return _apply({"op": "delete", "key": key})


def increment(key: str, by: float = 1) -> dict[str, Any]:
    """Add `by` to a numeric key (a missing key counts as 0)."""
    return _apply({"op": "increment", "key": key, "value": by})


def decrement(key: str, by: float = 1) -> dict[str, Any]:
    """Subtract `by` from a numeric key."""
    return _apply({"op": "increment", "key": key, "value": -by})


def append(key: str, value: Any) -> dict[str, Any]:
    """Append to a list key (a missing key becomes a list)."""
    return _apply({"op": "append", "key": key, "value": value})


def remove(key: str, value: Any) -> dict[str, Any]:
    """Remove every occurrence of `value` from a list key."""
    return _apply({"op": "remove", "key": key, "value": value})


def replace(metadata: dict[str, Any]) -> dict[str, Any]:
    """Replace the whole metadata object."""
    return _apply({"op": "replace", "value": metadata})
