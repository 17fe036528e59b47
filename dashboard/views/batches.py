"""Batches: the list, and one batch with its runs counted per status."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from dashboard.access import environment_for
from dashboard.pages import render_page
from runs.models import Batch, Run, RunStatus

PAGE_SIZE = 50
BATCH_RUNS_SHOWN = 100
# How the list sums up a batch's runs: (label, badge tone, statuses), in lifecycle
# order. The runs list links name statuses as its filter does (RETRYING is part of
# EXECUTING there).
STATUS_GROUPS = [
    (
        "waiting to start",
        "wait",
        [RunStatus.PENDING_VERSION, RunStatus.DELAYED, RunStatus.QUEUED],
    ),
    (
        "running",
        "live",
        [
            RunStatus.DEQUEUED,
            RunStatus.EXECUTING,
            RunStatus.RETRYING,
            RunStatus.WAITING,
        ],
    ),
    ("completed", "ok", [RunStatus.COMPLETED]),
    (
        "failed",
        "bad",
        [
            RunStatus.FAILED,
            RunStatus.CRASHED,
            RunStatus.SYSTEM_FAILURE,
            RunStatus.TIMED_OUT,
        ],
    ),
    ("canceled", "muted", [RunStatus.CANCELED]),
    ("expired", "muted", [RunStatus.EXPIRED]),
]


@dataclass(frozen=True)
class GroupCount:
    label: str
    tone: str
    count: int
    query: str  # the runs list's query string for these runs of the batch


@login_required
@require_GET
def batches_page(request: HttpRequest, project: str, env: str) -> HttpResponse:
    environment = environment_for(request, project, env)
    batches = Batch.objects.filter(environment=environment).defer(
        "errors", "cached_runs"
    )
    after = request.GET.get("after", "")
    if after:
        batches = batches.filter(pk__lt=after)
    rows = list(batches.order_by("-id")[: PAGE_SIZE + 1])
    shown = rows[:PAGE_SIZE]
    context = {
        "batches": shown,
        "status_groups": grouped_counts([batch.pk for batch in shown]),
        "older": rows[PAGE_SIZE - 1].pk if len(rows) > PAGE_SIZE else "",
        "paged": bool(after),
    }
    return render_page(request, "dashboard/batches.html", environment, context)


def grouped_counts(batch_ids: list[str]) -> dict[str, list[GroupCount]]:
    """The runs of each batch counted per group of statuses, in one query.

    It reads the index on (batch, batch_index) and each run's status: a page
    costs the sum of its batches' sizes, which the batch API caps.
    """
    per_status: dict[str, dict[str, int]] = {}
    rows = (
        Run.objects.filter(batch_id__in=batch_ids)
        .values_list("batch_id", "status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for batch_id, status, n in rows:
        per_status.setdefault(batch_id, {})[status] = n

    grouped: dict[str, list[GroupCount]] = {}
    for batch_id, counts in per_status.items():
        grouped[batch_id] = [
            GroupCount(label, tone, total, group_query(batch_id, statuses))
            for label, tone, statuses in STATUS_GROUPS
            if (total := sum(counts.get(status, 0) for status in statuses))
        ]
    return grouped


def group_query(batch_id: str, statuses: list[str]) -> str:
    names = dict.fromkeys(
        RunStatus.EXECUTING if status == RunStatus.RETRYING else status
        for status in statuses
    )
    return urlencode([("batch", batch_id), *(("status", name) for name in names)])


@login_required
@require_GET
def batch_page(
    request: HttpRequest, project: str, env: str, batch_id: str
) -> HttpResponse:
    environment = environment_for(request, project, env)
    batch = Batch.objects.filter(pk=batch_id, environment=environment).first()
    if batch is None:
        raise Http404("No such batch")

    runs = Run.objects.filter(batch=batch)
    counts = {
        row["status"]: row["n"]
        for row in runs.values("status").annotate(n=Count("pk")).order_by()
    }
    context = {
        "batch": batch,
        "counts": sorted(counts.items(), key=lambda item: -item[1]),
        "counted": sum(counts.values()),
        "runs": runs.select_related("queue")
        .defer("payload", "output", "error", "metadata")
        .order_by("batch_index")[:BATCH_RUNS_SHOWN],
        "shown": BATCH_RUNS_SHOWN,
    }
    return render_page(request, "dashboard/batch.html", environment, context)
