"""The run page and its actions: cancel, replay, reschedule."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apikeys.models import Environment
from dashboard import runinfo
from dashboard.access import environment_for
from dashboard.filters import zone
from dashboard.pages import env_url, render_page
from dashboard.templatetags.dashboard import status_label
from dashboard.triggering import TriggerForm
from runs import engine
from runs.models import Run, RunStatus

# Seconds between two refreshes of a run that has not finished.
LIVE_POLL_SECONDS = 2
RESCHEDULE_STEP = timedelta(hours=1)


def get_run(environment: Environment, run_id: str) -> Run:
    run = (
        Run.objects.select_related(
            "environment",
            "queue",
            "parent_run",
            "root_run",
            "batch",
            "schedule",
            "replayed_from",
        )
        .filter(pk=run_id, environment=environment)
        .first()
    )
    if run is None:
        raise Http404("No such run")
    return run


@login_required
@require_GET
def run_page(request: HttpRequest, project: str, env: str, run_id: str) -> HttpResponse:
    environment = environment_for(request, project, env)
    run = get_run(environment, run_id)
    part = request.GET.get("part", "")
    if part == "logs":
        return logs_part(request, environment, run)

    unchanged = request.GET.get("since") == run.updated_at.isoformat()
    if (
        part == "live"
        and unchanged
        and run.status not in (RunStatus.QUEUED, RunStatus.EXECUTING)
    ):
        return HttpResponse(status=204)

    context = {
        "run": run,
        "poll_seconds": LIVE_POLL_SECONDS,
        "log": runinfo.log_chunk(
            run, after=read_int(request.GET.get("logs_after")), shown=0
        ),
        **runinfo.run_details(run, request.build_absolute_uri("/").rstrip("/")),
    }
    response = render_page(
        request, "dashboard/run.html", environment, context, fragment="live"
    )
    if request.htmx and run.is_final:
        response.status_code = 286
    return response


def logs_part(request: HttpRequest, environment: Environment, run: Run) -> HttpResponse:
    after = read_int(request.GET.get("after"))
    shown = read_int(request.GET.get("shown"))
    context = {
        "run": run,
        "log": runinfo.log_chunk(run, after, shown),
        "poll_seconds": LIVE_POLL_SECONDS,
    }
    response = render_page(
        request, "dashboard/run.html", environment, context, fragment="log-chunk"
    )
    if request.htmx and not context["log"].live and not context["log"].more:
        response.status_code = 286
    return response


def read_int(raw: str | None) -> int:
    return int(raw) if raw and raw.isdigit() else 0


@login_required
@require_POST
def cancel(request: HttpRequest, project: str, env: str, run_id: str) -> HttpResponse:
    environment = environment_for(request, project, env)
    run = get_run(environment, run_id)
    if engine.cancel_run(run):
        messages.success(request, f"Canceled {run.pk}.")
    else:
        messages.info(request, f"{run.pk} had already finished, so nothing changed.")
    return redirect(env_url("run", environment, run.pk))


@login_required
@require_POST
def reschedule(
    request: HttpRequest, project: str, env: str, run_id: str
) -> HttpResponse:
    environment = environment_for(request, project, env)
    run = get_run(environment, run_id)
    due, problem = requested_time(request, run)
    if problem:
        messages.error(request, problem)
    elif engine.reschedule_run(run, due):
        messages.success(
            request,
            "Rescheduled." if due > timezone.now() else "It joins its queue now.",
        )
    else:
        messages.error(
            request,
            "Only a delayed run can be rescheduled; "
            f"this one is {status_label(run.status).lower()}.",
        )
    return redirect(env_url("run", environment, run.pk))


def requested_time(request: HttpRequest, run: Run) -> tuple[datetime, str]:
    """The new start time the form asks for, or a message saying what is wrong."""
    now = timezone.now()
    action = request.POST.get("action", "at")
    if action == "now":
        return now, ""
    if action == "later":
        return max(run.delay_until or now, now) + RESCHEDULE_STEP, ""

    raw = request.POST.get("when", "").strip()
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return now, "Pick a date and time to start the run."
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone(request.POST.get("tz", "")))
    if moment <= now:
        return now, "That time has passed; pick a later one, or start it now."
    return moment, ""


@login_required
@require_http_methods(["GET", "POST"])
def replay(request: HttpRequest, project: str, env: str, run_id: str) -> HttpResponse:
    environment = environment_for(request, project, env)
    run = get_run(environment, run_id)
    if request.method == "GET":
        form = TriggerForm.from_run(run)
    elif request.POST.get("unchanged"):
        with transaction.atomic():
            return replayed(request, environment, engine.replay_run(run))
    else:
        form = TriggerForm.from_post(request.POST)
        spec = form.spec()
        if spec is not None:
            try:
                with transaction.atomic():
                    return replayed(request, environment, engine.replay_run(run, spec))
            except engine.EngineError as exc:
                form.errors["form"] = str(exc)

    context = {"run": run, "form": form}
    status = 400 if form.errors else 200
    return render_page(
        request, "dashboard/replay.html", environment, context, status=status
    )


def replayed(
    request: HttpRequest, environment: Environment, new_run: Run
) -> HttpResponse:
    messages.success(request, f"Replayed as {new_run.pk}.")
    return redirect(env_url("run", environment, new_run.pk))
