"""Batches: the list, and one batch with its runs counted per status."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from dashboard.access import environment_for
from dashboard.pages import render_page
from runs.models import Batch, Run

PAGE_SIZE = 50
BATCH_RUNS_SHOWN = 100


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
    context = {
        "batches": rows[:PAGE_SIZE],
        "older": rows[PAGE_SIZE - 1].pk if len(rows) > PAGE_SIZE else "",
        "paged": bool(after),
    }
    return render_page(request, "dashboard/batches.html", environment, context)


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
