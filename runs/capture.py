"""Capturing what a task writes through `logging` or `print` during an attempt."""

from __future__ import annotations

import io
import logging
import sys
import threading
from datetime import datetime
from datetime import timezone as dt_timezone

from runs.engine import LogLine

# Lines kept per attempt; a noisy task keeps its first lines and a notice.
MAX_LINES_PER_ATTEMPT = 5000

_local = threading.local()


class _CaptureHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        lines = getattr(_local, "lines", None)
        if lines is None or record.name.startswith(("runs.", "celery", "kombu", "django")):
            return
        _append(lines, record.levelname, self.format(record))


class _StreamTee(io.TextIOBase):
    """Passes writes through, and keeps whole lines for the attempt running here."""

    def __init__(self, stream, level: str) -> None:
        self.stream = stream
        self.level = level

    def write(self, text: str) -> int:
        self.stream.write(text)
        lines = getattr(_local, "lines", None)
        if lines is not None:
            buffer = getattr(_local, "partial", "") + text
            *complete, _local.partial = buffer.split("\n")
            for line in complete:
                _append(lines, self.level, line)
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


def _append(lines: list[LogLine], level: str, message: str) -> None:
    if len(lines) < MAX_LINES_PER_ATTEMPT:
        lines.append(LogLine(datetime.now(dt_timezone.utc), level, message))
    elif len(lines) == MAX_LINES_PER_ATTEMPT:
        lines.append(
            LogLine(datetime.now(dt_timezone.utc), "WARNING", "further log lines dropped")
        )


_installed = False
_install_lock = threading.Lock()


def install() -> None:
    """Hook the root logger and stdout/stderr once per process."""
    global _installed
    with _install_lock:
        if _installed:
            return
        handler = _CaptureHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logging.getLogger().addHandler(handler)
        sys.stdout = _StreamTee(sys.stdout, "INFO")
        sys.stderr = _StreamTee(sys.stderr, "ERROR")
        _installed = True


class capture_logs:
    """Collect the log lines written by this thread inside the `with` block."""

    def __enter__(self) -> list[LogLine]:
        install()
        _local.lines = []
        _local.partial = ""
        return _local.lines

    def __exit__(self, *exc_info) -> None:
        lines, partial = _local.lines, _local.partial
        if partial:
            _append(lines, "INFO", partial)
        _local.lines = None
        _local.partial = ""
