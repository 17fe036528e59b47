"""Numbers for the tasks page: runs per task over a day, runs per minute over an hour.

Both select runs by id range, which sorts by creation time, so they walk the
(environment, id) index over the period only.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count
from django.db.models.functions import TruncMinute
from django.utils import timezone

from apikeys.models import Environment
from runs.filtering import first_id_at
from runs.models import FINAL_STATUSES, SLOT_STATUSES, Queue, Run, RunStatus, Task

TASK_STATS_PERIOD = timedelta(hours=24)
CHART_MINUTES = 60
CHART_WIDTH = 720
CHART_HEIGHT = 160
# Stacked bottom to top.
CHART_SERIES = [
    ("completed", "Completed"),
    ("failed", "Failed"),
    ("canceled", "Canceled or expired"),
    ("active", "Not finished"),
]
FAILED = {
    RunStatus.FAILED,
    RunStatus.CRASHED,
    RunStatus.SYSTEM_FAILURE,
    RunStatus.TIMED_OUT,
}


def series_of(status: str) -> str:
    if status == RunStatus.COMPLETED:
        return "completed"
    if status in FAILED:
        return "failed"
    if status in FINAL_STATUSES:
        return "canceled"
    return "active"


@dataclass
class TaskRow:
    slug: str
    task: Task | None
    runs: int = 0
    completed: int = 0
    failed: int = 0
    active: int = 0

    @property
    def failure_rate(self) -> float | None:
        finished = self.completed + self.failed
        return self.failed / finished if finished else None


def task_rows(environment: Environment) -> list[TaskRow]:
    """Every registered task (and any task with recent runs) with its last day's runs."""
    since = first_id_at(timezone.now() - TASK_STATS_PERIOD)
    tasks = Task.objects.filter(environment=environment).select_related("queue")
    rows = {task.slug: TaskRow(task.slug, task) for task in tasks}
    counts = (
        Run.objects.filter(environment=environment, pk__gte=since)
        .values("task_identifier", "status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for item in counts:
        row = rows.setdefault(
            item["task_identifier"], TaskRow(item["task_identifier"], None)
        )
        row.runs += item["n"]
        kind = series_of(item["status"])
        if kind in ("completed", "failed", "active"):
            setattr(row, kind, getattr(row, kind) + item["n"])
    return sorted(rows.values(), key=lambda row: row.slug)


@dataclass
class Column:
    minute: datetime
    x: float
    stacks: list[tuple[str, float, float, int]] = field(default_factory=list)
    total: int = 0


@dataclass
class Chart:
    columns: list[Column]
    peak: int
    totals: dict[str, int]
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT
    series: list[tuple[str, str]] = field(default_factory=lambda: CHART_SERIES)

    @property
    def gridlines(self) -> list[tuple[float, int]]:
        if not self.peak:
            return []
        steps = [self.peak, round(self.peak / 2)] if self.peak > 1 else [self.peak]
        return [
            (self.height - value / self.peak * self.height, value) for value in steps
        ]


def throughput(environment: Environment, now: datetime | None = None) -> Chart:
    """Runs created per minute over the last hour, stacked by how they ended."""
    now = (now or timezone.now()).replace(second=0, microsecond=0)
    first = now - timedelta(minutes=CHART_MINUTES - 1)
    rows = (
        Run.objects.filter(
            environment=environment, pk__gte=first_id_at(first), created_at__gte=first
        )
        .annotate(minute=TruncMinute("created_at"))
        .values("minute", "status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    per_minute: dict[datetime, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    totals: dict[str, int] = defaultdict(int)
    for row in rows:
        kind = series_of(row["status"])
        per_minute[row["minute"]][kind] += row["n"]
        totals[kind] += row["n"]

    peak = max((sum(counts.values()) for counts in per_minute.values()), default=0)
    slot = CHART_WIDTH / CHART_MINUTES
    columns = []
    for index in range(CHART_MINUTES):
        minute = first + timedelta(minutes=index)
        counts = per_minute.get(minute, {})
        column = Column(minute, round(index * slot + 1, 2), total=sum(counts.values()))
        y = float(CHART_HEIGHT)
        for kind, _ in CHART_SERIES:
            value = counts.get(kind, 0)
            if value and peak:
                height = value / peak * CHART_HEIGHT
                y -= height
                column.stacks.append((kind, round(y, 2), round(height, 2), value))
        columns.append(column)
    return Chart(columns, peak, dict(totals))


@dataclass
class QueueRow:
    queue: Queue
    queued: int
    running: int

    @property
    def limited_by(self) -> str:
        return "queue" if self.queue.concurrency_limit is not None else "environment"

    @property
    def full(self) -> bool:
        limit = self.queue.concurrency_limit
        return limit is not None and self.running >= limit


@dataclass
class QueueOverview:
    rows: list[QueueRow]
    env_limit: int
    env_running: int

    @property
    def env_full(self) -> bool:
        return self.env_running >= self.env_limit


def queue_overview(environment: Environment) -> QueueOverview:
    """Each queue with its queued and running runs, counted on the dispatcher's indexes."""
    queued = counts_by_queue(environment, [RunStatus.QUEUED])
    running = counts_by_queue(environment, list(SLOT_STATUSES))
    queues = Queue.objects.filter(environment=environment).order_by("name")
    rows = [
        QueueRow(queue, queued.get(queue.pk, 0), running.get(queue.pk, 0))
        for queue in queues
    ]
    return QueueOverview(rows, environment.concurrency_limit, sum(running.values()))


def counts_by_queue(environment: Environment, statuses: list[str]) -> dict[int, int]:
    rows = (
        Run.objects.filter(environment=environment, status__in=statuses)
        .values("queue_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {row["queue_id"]: row["n"] for row in rows}
