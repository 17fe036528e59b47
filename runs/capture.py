"""Capturing what a task writes through `logging` or `print` during an attempt.

The lines of an attempt segment are saved while it runs and when it ends. The
worker's heartbeat thread saves the lines written so far every beat
(`CapturedLines.save_pending`), so the run page shows them live; the lines
left when the segment ends are saved with its end, by `finish_attempt`, which
iterates the capture. Each line is handed out once, in the order written.
"""

from __future__ import annotations

import io
import logging
import sys
import threading
from collections.abc import Iterator
from datetime import datetime
from datetime import timezone as dt_timezone

from django.db import connection, transaction

from runs.engine import LogLine
from runs.models import RunLog

# Lines kept per attempt; a noisy task keeps its first lines and a notice.
MAX_LINES_PER_ATTEMPT = 5000
# Loggers of the platform itself, whose lines are not the task's.
OWN_LOGGERS = ("runs.", "celery", "kombu", "django")

_local = threading.local()
# The capture of each thread running an attempt, for its heartbeat thread.
_active: dict[int, CapturedLines] = {}


class CapturedLines:
    """The lines one attempt segment writes, not yet saved.

    Two threads hand lines out: the heartbeat thread (`save_pending`) and,
    once, the thread ending the segment (iteration). `saving` keeps them
    apart, so the lines saved by a beat are committed before the last lines
    are handed out, and none is saved twice.
    """

    def __init__(self) -> None:
        self.pending: list[LogLine] = []
        self.partial = ""
        self.count = 0
        self.closed = False
        self.lock = threading.Lock()
        self.saving = threading.Lock()

    def add(self, level: str, message: str) -> None:
        with self.lock:
            self._add(level, message)

    def add_text(self, level: str, text: str) -> None:
        """Keep the whole lines of text written to a stream; hold back the rest."""
        with self.lock:
            *complete, self.partial = (self.partial + text).split("\n")
            for line in complete:
                self._add(level, line)

    def _add(self, level: str, message: str) -> None:
        if self.closed:
            return
        self.count += 1
        now = datetime.now(dt_timezone.utc)
        if self.count <= MAX_LINES_PER_ATTEMPT:
            self.pending.append(LogLine(now, level, message))
        elif self.count == MAX_LINES_PER_ATTEMPT + 1:
            self.pending.append(LogLine(now, "WARNING", "further log lines dropped"))

    def end_partial(self) -> None:
        """Keep a last line written without its newline."""
        with self.lock:
            if self.partial:
                self._add("INFO", self.partial)
                self.partial = ""

    def __iter__(self) -> Iterator[LogLine]:
        """The lines not saved yet, handed out once: the segment is ending."""
        self.end_partial()
        with self.saving, self.lock:
            self.closed = True
            lines, self.pending = self.pending, []
        return iter(lines)

    def save_pending(self, run_id: str, attempt_number: int) -> int:
        """Save the whole lines written since the last save; how many were saved.

        It never waits for a lock the task's thread may hold while it waits
        for this thread: when the run's row is locked for update (the segment
        is ending, or metadata is being written) it saves nothing this time.
        """
        with self.saving:
            with self.lock:
                if self.closed or not self.pending:
                    return 0
            lines: list[LogLine] = []
            try:
                with transaction.atomic():
                    if not lock_run_key(run_id):
                        return 0
                    with self.lock:
                        lines, self.pending = self.pending, []
                    save_lines(run_id, attempt_number, lines)
            except Exception:
                with self.lock:
                    self.pending[:0] = lines
                raise
            return len(lines)


def lock_run_key(run_id: str) -> bool:
    """Hold the lock that saving log lines of the run needs, if it is free now.

    RunLog's foreign key makes its commit take this lock (FOR KEY SHARE on the
    run); taken first with SKIP LOCKED, the commit can no longer wait for it.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM runs_run WHERE id = %s FOR KEY SHARE SKIP LOCKED", [run_id]
        )
        return cursor.fetchone() is not None


def save_lines(run_id: str, attempt_number: int, lines: list[LogLine]) -> None:
    RunLog.objects.bulk_create(
        RunLog(
            run_id=run_id,
            attempt_number=attempt_number,
            logged_at=line.logged_at,
            level=line.level,
            message=line.message,
        )
        for line in lines
    )


def active_capture(thread_id: int) -> CapturedLines | None:
    """The capture of the attempt running on a thread, if any."""
    return _active.get(thread_id)


class _CaptureHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        lines = getattr(_local, "lines", None)
        if lines is None or record.name.startswith(OWN_LOGGERS):
            return
        lines.add(record.levelname, self.format(record))


class _StreamTee(io.TextIOBase):
    """Passes writes through, and keeps whole lines for the attempt running here."""

    def __init__(self, stream, level: str) -> None:
        self.stream = stream
        self.level = level

    def write(self, text: str) -> int:
        self.stream.write(text)
        lines = getattr(_local, "lines", None)
        if lines is not None:
            lines.add_text(self.level, text)
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


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

    def __enter__(self) -> CapturedLines:
        install()
        _local.lines = CapturedLines()
        _active[threading.get_ident()] = _local.lines
        return _local.lines

    def __exit__(self, *exc_info) -> None:
        lines = _local.lines
        lines.end_partial()
        _active.pop(threading.get_ident(), None)
        _local.lines = None
