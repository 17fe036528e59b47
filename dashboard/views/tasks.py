"""The tasks page (runs per task over a day, throughput) and each task's test page."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_http_methods

from apikeys.models import Environment
from dashboard import stats
from dashboard.access import environment_for
from dashboard.pages import env_url, render_page
from dashboard.triggering import TriggerForm
from runs import engine, packets
from runs.models import Run, Task

RECENT_PAYLOADS = 5


@login_required
@require_GET
def tasks_page(request: HttpRequest, project: str, env: str) -> HttpResponse:
    environment = environment_for(request, project, env)
    context = {
        "rows": stats.task_rows(environment),
        "chart": stats.throughput(environment),
    }
    return render_page(
        request, "dashboard/tasks.html", environment, context, fragment="chart"
    )


@login_required
@require_http_methods(["GET", "POST"])
def test_task(
    request: HttpRequest, project: str, env: str, task_id: str
) -> HttpResponse:
    environment = environment_for(request, project, env)
    task = (
        Task.objects.select_related("queue")
        .filter(environment=environment, slug=task_id)
        .first()
    )
    if task is None:
        raise Http404("No such task")
    recent = list(
        Run.objects.filter(
            environment=environment, task_identifier=task.slug, payload__isnull=False
        )
        .only("id", "payload", "payload_type", "created_at", "status")
        .order_by("-id")[:RECENT_PAYLOADS]
    )

    if request.method == "POST":
        form = TriggerForm.from_post(request.POST)
        spec = form.spec(test=True)
        if spec is not None:
            try:
                triggered = engine.trigger_run(environment, task.slug, spec)
            except engine.EngineError as exc:
                form.errors["form"] = str(exc)
            else:
                return redirect_to_run(request, environment, triggered)
    else:
        form = TriggerForm(payload=starting_payload(request, recent))

    context = {
        "task": task,
        "form": form,
        "recent": [(run, pretty(run)) for run in recent],
    }
    status = 400 if form.errors else 200
    return render_page(
        request, "dashboard/test.html", environment, context, status=status
    )


def redirect_to_run(
    request: HttpRequest, environment: Environment, triggered: engine.Triggered
) -> HttpResponse:
    run = triggered.run
    if triggered.is_cached:
        messages.info(
            request,
            f"{run.pk} already holds this idempotency key, so no run was added.",
        )
    else:
        messages.success(request, f"Triggered {run.pk}.")
    return redirect(env_url("run", environment, run.pk))


def starting_payload(request: HttpRequest, recent: list[Run]) -> str:
    """The payload of the run picked with ?from=, else of the last run, else {}."""
    picked = request.GET.get("from")
    for run in recent:
        if picked in (None, run.pk):
            return pretty(run)
    return "{}"


def pretty(run: Run) -> str:
    try:
        value = packets.decode(run.payload, run.payload_type)
    except packets.PacketError:
        return run.payload or ""
    return json.dumps(value, indent=2, ensure_ascii=False)
