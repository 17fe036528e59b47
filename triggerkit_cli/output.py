"""Printing for people and for scripts: tables, key-value blocks, progress lines."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TextIO


def table(rows: Sequence[Sequence[str]], headers: Sequence[str], out: TextIO) -> None:
    """Print columns padded to their widest cell; the last column is not padded."""
    widths = [
        max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))
    ]
    for row in [headers, *rows]:
        cells = [str(cell).ljust(width) for cell, width in zip(row, widths)]
        out.write("  ".join(cells).rstrip() + "\n")


def fields(pairs: Sequence[tuple[str, Any]], out: TextIO) -> None:
    """Print `name  value` lines, skipping empty values."""
    shown = [(name, value) for name, value in pairs if value not in (None, "", [])]
    width = max((len(name) for name, _ in shown), default=0)
    for name, value in shown:
        out.write(f"{name.ljust(width)}  {value}\n")


def as_json(value: Any, out: TextIO) -> None:
    out.write(json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n")


def moment(value: datetime | None) -> str:
    return "" if value is None else value.isoformat(timespec="seconds")


def duration(milliseconds: float) -> str:
    if not milliseconds:
        return ""
    seconds = milliseconds / 1000
    if seconds < 60:
        return f"{seconds:.2f}s"
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}m{seconds:02d}s"


class Progress:
    """Progress of a long command on stderr, so stdout stays clean for scripts.

    On a terminal each update overwrites the previous one; elsewhere updates are
    printed only when asked for (--progress), one per line.
    """

    def __init__(
        self, enabled: bool | None = None, stream: TextIO | None = None
    ) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.enabled = self.tty if enabled is None else enabled
        self.dirty = False

    def update(self, text: str) -> None:
        if not self.enabled:
            return
        if self.tty:
            self.stream.write(f"\r\033[K{text}")
            self.dirty = True
        else:
            self.stream.write(f"{text}\n")
        self.stream.flush()

    def done(self) -> None:
        if self.dirty:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self.dirty = False
