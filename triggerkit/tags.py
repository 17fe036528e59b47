"""Tags of the run this task is executing."""

from __future__ import annotations

from collections.abc import Sequence

from triggerkit._runtime import require_runtime


def add(tags: str | Sequence[str]) -> list[str]:
    """Add one tag or several to the current run; returns all its tags (at most 10)."""
    new = [tags] if isinstance(tags, str) else list(tags)
    return require_runtime("tags.add").add_tags(new)
