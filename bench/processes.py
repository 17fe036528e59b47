"""Starting and stopping the processes under test, and reading their memory."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import psutil

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# Workers register every task in every environment before they are ready.
START_TIMEOUT_SECONDS = 120
# The limiter still counts every request (its cost is measured), but the load
# test's 20,000 triggers in two minutes must not be refused by it, nor the
# in-process scenarios that come after it with the same key.
BENCH_RATE_LIMIT_PER_MINUTE = 1_000_000
STOP_TIMEOUT_SECONDS = 20


class ProcessError(RuntimeError):
    """A process under test did not start or died."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_tail(self, chars: int = 3000) -> str:
        return self.log()[-chars:]

    def alive(self) -> bool:
        return self.popen.poll() is None

    def check(self) -> None:
        if not self.alive():
            raise ProcessError(f"{self.name} exited:\n{self.log_tail()}")

    def tree(self) -> list[psutil.Process]:
        """The process and its children (prefork pool, gunicorn workers)."""
        try:
            main = psutil.Process(self.popen.pid)
            return [main, *main.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def stop(
        self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT_SECONDS
    ) -> None:
        """Send sig and wait; kill the whole process group if it outlives timeout."""
        if not self.alive():
            return
        self.popen.send_signal(sig)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()


@dataclass
class Processes:
    """Every process one target started, so that all of them stop at the end."""

    env: dict[str, str]
    log_dir: Path
    processes: list[Process] = field(default_factory=list)

    def spawn(
        self, name: str, args: list[str], env: dict[str, str] | None = None
    ) -> Process:
        log_path = self.log_dir / f"{name}.log"
        popen = subprocess.Popen(
            args,
            cwd=ROOT,
            env={**self.env, **(env or {})},
            stdout=log_path.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        process = Process(name, popen, log_path)
        self.processes.append(process)
        return process

    def stop(self, process: Process) -> None:
        process.stop()
        if process in self.processes:
            self.processes.remove(process)

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()


def celery_worker_args(app: str, queue: str, concurrency: int, name: str) -> list[str]:
    return [
        str(BIN / "celery"),
        "-A",
        app,
        "worker",
        "-l",
        "warning",
        "-c",
        str(concurrency),
        "-Q",
        queue,
        "-n",
        f"{name}@%h",
        "--without-mingle",
        "--without-gossip",
        "--without-heartbeat",
    ]


def wait_for(
    check, process: Process, what: str, timeout: float = START_TIMEOUT_SECONDS
):
    """Return check()'s first truthy value; fail if the process dies or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        process.check()
        if time.monotonic() > deadline:
            raise ProcessError(
                f"{what} not reached in {timeout}s:\n{process.log_tail()}"
            )
        time.sleep(0.05)


@dataclass
class Memory:
    """Resident memory of a process tree, in MiB."""

    main_rss: float
    child_rss: list[float]
    total_uss: float

    @property
    def largest_rss(self) -> float:
        return max([self.main_rss, *self.child_rss])

    def as_dict(self) -> dict:
        return {
            "main_rss_mib": round(self.main_rss, 1),
            "child_rss_mib": [round(value, 1) for value in self.child_rss],
            "largest_rss_mib": round(self.largest_rss, 1),
            "total_uss_mib": round(self.total_uss, 1),
        }


def memory_of(process: Process) -> Memory | None:
    tree = process.tree()
    if not tree:
        return None
    mib = 1024 * 1024
    rss, uss = [], 0.0
    for member in tree:
        try:
            info = member.memory_full_info()
        except psutil.Error:
            continue
        rss.append(info.rss / mib)
        uss += info.uss / mib
    if not rss:
        return None
    return Memory(rss[0], rss[1:], uss)


class MemorySampler:
    """Samples a process tree's memory in a thread and keeps the peak."""

    def __init__(self, process: Process, interval: float = 0.5) -> None:
        import threading

        self.process = process
        self.interval = interval
        self.peak: Memory | None = None
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stopped.set()
        self.thread.join()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            sample = memory_of(self.process)
            if sample is None:
                continue
            if self.peak is None or sample.largest_rss > self.peak.largest_rss:
                self.peak = sample


def postgres_backends(database_names: set[str]) -> list[psutil.Process]:
    """Server processes serving the given databases (their title names the database)."""
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        cmdline = " ".join(process.info.get("cmdline") or [])
        if cmdline.startswith("postgres:") and any(
            f" {name} " in cmdline for name in database_names
        ):
            found.append(process)
    return found


class CpuMeter:
    """CPU seconds used by named groups of processes over a phase, and the machine's total.

    Groups are callables returning processes, read at the start and the end;
    a process that exits during the phase loses its share, so groups should be
    long-lived (web workers, pool processes, pooled database connections).
    """

    def __init__(self, groups: dict[str, callable]) -> None:
        self.groups = groups
        self.before: dict[str, dict[int, float]] = {}
        self.result: dict = {}

    @staticmethod
    def cpu_seconds(processes: list[psutil.Process]) -> dict[int, float]:
        used = {}
        for process in processes:
            try:
                times = process.cpu_times()
            except psutil.Error:
                continue
            used[process.pid] = times.user + times.system
        return used

    def __enter__(self) -> Self:
        self.started = time.monotonic()
        self.machine_before = psutil.cpu_times()
        self.before = {
            name: self.cpu_seconds(get()) for name, get in self.groups.items()
        }
        return self

    def __exit__(self, *exc_info) -> None:
        elapsed = time.monotonic() - self.started
        machine_after = psutil.cpu_times()
        busy = sum(
            getattr(machine_after, field) - getattr(self.machine_before, field)
            for field in ("user", "system", "nice", "irq", "softirq")
        )
        cores = {"machine (all processes)": busy / elapsed}
        for name, get in self.groups.items():
            after = self.cpu_seconds(get())
            used = sum(after[pid] - self.before[name].get(pid, 0.0) for pid in after)
            cores[name] = max(0.0, used) / elapsed
        self.result = {name: round(value, 2) for name, value in cores.items()}
