"""Supervising web, worker and beat as child processes of `manage.py up`.

Each child runs in its own session, so Ctrl-C in the terminal reaches only the
launcher, which then stops the children with SIGTERM and waits for them. Their
output comes back through pipes and is printed line by line behind the
child's name. If a child exits on its own, the others are stopped and
`ChildExitedError` names it.

The children outlive a launcher killed with SIGKILL (their own sessions shield
them from the terminal, and nothing ties their lives to the launcher's); the
next start then finds the port taken and says so.
"""

from __future__ import annotations

import fcntl
import logging
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

logger = logging.getLogger(__name__)

WEB_START_TIMEOUT_SECONDS = 60
STOP_GRACE_SECONDS = 20
DRAIN_TIMEOUT_SECONDS = 2
PUMP_INTERVAL_SECONDS = 0.2
HEALTH_CHECK_TIMEOUT_SECONDS = 1
WEB_WORKERS = 2
WEB_THREADS = 4
READ_CHUNK_BYTES = 65536
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class LauncherError(Exception):
    """The platform could not be started or kept running."""


class ChildExitedError(LauncherError):
    """A child process exited without being asked to."""

    def __init__(self, name: str, returncode: int) -> None:
        self.name = name
        self.returncode = returncode
        super().__init__(f"{name} exited unexpectedly ({describe_exit(returncode)})")


class StartTimeoutError(LauncherError):
    """The web server did not answer its health check in time."""


class AlreadyRunningError(LauncherError):
    """Another launcher holds the lock on the same var folder."""


@dataclass
class Child:
    name: str
    args: list[str]
    popen: subprocess.Popen[bytes] | None = None
    pending: bytes = b""

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None


def platform_children(port: int, concurrency: int) -> list[Child]:
    """The web server, one Celery worker and Celery beat, run by this Python."""
    python = [sys.executable, "-m"]
    web = [
        *python,
        "gunicorn",
        "config.wsgi",
        f"--bind=127.0.0.1:{port}",
        # gthread reads chunked request bodies, which the sync worker refuses.
        "--worker-class=gthread",
        f"--workers={WEB_WORKERS}",
        f"--threads={WEB_THREADS}",
        # Its default socket path is per user, shared by every gunicorn they run.
        "--no-control-socket",
    ]
    celery = [*python, "celery", "--app=config"]
    worker = [
        *celery,
        "worker",
        "--queues=triggerkit",
        f"--concurrency={concurrency}",
        "--loglevel=info",
        "--without-mingle",
        "--without-gossip",
    ]
    beat = [*celery, "beat", "--loglevel=info"]
    return [Child("web", web), Child("worker", worker), Child("beat", beat)]


class Supervisor:
    """Start children, relay their output, and stop them all together."""

    def __init__(
        self, children: list[Child], out: TextIO, env: dict[str, str], cwd: Path
    ) -> None:
        self.children = children
        self.out: TextIO | None = out
        self.env = env
        self.cwd = cwd
        self.selector = selectors.DefaultSelector()
        self.width = max(len(child.name) for child in children)
        self.stop_signal: int | None = None
        self.force = False

    def run(self, health_url: str, on_ready: Callable[[], None]) -> None:
        """Run until a stop signal; call on_ready once health_url answers.

        Raises ChildExitedError or StartTimeoutError after stopping the rest.
        """
        previous = {sig: signal.signal(sig, self._on_signal) for sig in STOP_SIGNALS}
        try:
            for child in self.children:
                self._spawn(child)
            if self._wait_until_healthy(health_url):
                on_ready()
            while self.stop_signal is None:
                self._pump(PUMP_INTERVAL_SECONDS)
                self._raise_if_a_child_exited()
        finally:
            self._stop_all()
            self.selector.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _on_signal(self, signum: int, frame: object) -> None:
        # Only flags here: the loops act on them between reads.
        if self.stop_signal is None:
            self.stop_signal = signum
        else:
            self.force = True

    def _spawn(self, child: Child) -> None:
        child.popen = subprocess.Popen(
            child.args,
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        assert child.popen.stdout is not None
        self.selector.register(child.popen.stdout, selectors.EVENT_READ, child)
        logger.debug("started %s as pid %d", child.name, child.popen.pid)

    def _wait_until_healthy(self, url: str) -> bool:
        """Return True once url answers 200, False if told to stop first."""
        deadline = time.monotonic() + WEB_START_TIMEOUT_SECONDS
        while self.stop_signal is None:
            if http_ok(url):
                return True
            self._pump(PUMP_INTERVAL_SECONDS)
            self._raise_if_a_child_exited()
            if time.monotonic() > deadline:
                raise StartTimeoutError(
                    f"web did not answer {url} within {WEB_START_TIMEOUT_SECONDS}s"
                )
        return False

    def _raise_if_a_child_exited(self) -> None:
        for child in self.children:
            if child.popen is not None and not child.running:
                assert child.popen.returncode is not None
                raise ChildExitedError(child.name, child.popen.returncode)

    def _stop_all(self) -> None:
        running = [child for child in self.children if child.running]
        if running:
            self._say(f"Stopping {', '.join(c.name for c in running)}…")
        for child in running:
            self._signal(child, signal.SIGTERM)

        deadline = time.monotonic() + STOP_GRACE_SECONDS
        while any(c.running for c in running) and not self.force:
            if time.monotonic() > deadline:
                break
            self._pump(0.1)

        for child in running:
            if child.running:
                self._say(f"{child.name} did not stop in time; killing it.")
                self._kill_group(child)
        self._drain()

    def _signal(self, child: Child, sig: int) -> None:
        assert child.popen is not None
        with suppress(ProcessLookupError):
            child.popen.send_signal(sig)

    def _kill_group(self, child: Child) -> None:
        assert child.popen is not None
        # The child leads its own session, so this reaches its workers too.
        with suppress(ProcessLookupError):
            os.killpg(child.popen.pid, signal.SIGKILL)
        child.popen.wait()

    def _drain(self) -> None:
        """Print what the children wrote before exiting, until their pipes close."""
        deadline = time.monotonic() + DRAIN_TIMEOUT_SECONDS
        while self.selector.get_map() and time.monotonic() < deadline:
            self._pump(0.1)
        for key in list(self.selector.get_map().values()):
            self._close(key.fileobj, key.data)

    def _pump(self, timeout: float) -> None:
        """Relay whatever the children wrote, waiting at most timeout seconds."""
        if not self.selector.get_map():
            time.sleep(timeout)
            return
        for key, _ in self.selector.select(timeout):
            chunk = os.read(key.fd, READ_CHUNK_BYTES)
            if chunk:
                self._relay(key.data, chunk)
            else:
                self._close(key.fileobj, key.data)

    def _relay(self, child: Child, chunk: bytes) -> None:
        *lines, child.pending = (child.pending + chunk).split(b"\n")
        self._emit("".join(self._prefixed(child, line) for line in lines))

    def _close(self, pipe, child: Child) -> None:
        self.selector.unregister(pipe)
        pipe.close()
        if child.pending:
            self._emit(self._prefixed(child, child.pending))
            child.pending = b""

    def _prefixed(self, child: Child, line: bytes) -> str:
        text = line.decode(errors="replace").rstrip("\r")
        return f"{child.name:<{self.width}} | {text}\n"

    def _say(self, message: str) -> None:
        self._emit(f"{message}\n")

    def _emit(self, text: str) -> None:
        # Once the terminal is gone (closed pipe, hang-up), carry on in silence:
        # the children must still be stopped, and their pipes still drained.
        if self.out is None or not text:
            return
        try:
            self.out.write(text)
            self.out.flush()
        except OSError:
            self.out = None


def http_ok(url: str) -> bool:
    # Straight to the local server, whatever HTTP_PROXY says.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=HEALTH_CHECK_TIMEOUT_SECONDS) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def port_is_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        # Same option as gunicorn, so a port in TIME_WAIT still counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


@contextmanager
def single_instance(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive lock on lock_path, or raise AlreadyRunningError."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a+") as lock_file:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise AlreadyRunningError(
                f"another `manage.py up` is already running with {lock_path.parent}"
            ) from exc
        yield


@contextmanager
def interrupt_on_stop_signals() -> Iterator[None]:
    """Make SIGTERM and SIGHUP interrupt like Ctrl-C (KeyboardInterrupt)."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signals = (signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, interrupt) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def deferred_stop_signals() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM back until the block ends, then interrupt.

    For steps that leave a mess when cut short, like initialising a database.
    """
    received: list[int] = []

    def remember(signum: int, frame: object) -> None:
        received.append(signum)

    previous = {sig: signal.signal(sig, remember) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if received:
        raise KeyboardInterrupt


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        return f"killed by {signal.Signals(-returncode).name}"
    return f"exit code {returncode}"
