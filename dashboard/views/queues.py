"""The queues page: what waits and runs on each queue; pause, resume, override the limit."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_POST

from apikeys.models import Environment
from dashboard import stats
from dashboard.access import environment_for
from dashboard.pages import env_url, render_page
from runs import engine
from runs.models import Queue

LIMIT_MAX = 100_000


def get_queue(environment: Environment, queue_id: int) -> Queue:
    queue = Queue.objects.filter(pk=queue_id, environment=environment).first()
    if queue is None:
        raise Http404("No such queue")
    return queue


@login_required
@require_GET
def queues_page(request: HttpRequest, project: str, env: str) -> HttpResponse:
    environment = environment_for(request, project, env)
    context = {"overview": stats.queue_overview(environment), "limit_max": LIMIT_MAX}
    return render_page(
        request, "dashboard/queues.html", environment, context, fragment="queues"
    )


@login_required
@require_POST
def queue_pause(
    request: HttpRequest, project: str, env: str, queue_id: int
) -> HttpResponse:
    environment = environment_for(request, project, env)
    queue = get_queue(environment, queue_id)
    if engine.pause_queue(queue.pk):
        messages.success(
            request, f"Paused “{queue.name}”. Running runs finish; queued runs wait."
        )
    else:
        messages.info(request, f"“{queue.name}” was already paused.")
    return redirect(env_url("queues", environment))


@login_required
@require_POST
def queue_resume(
    request: HttpRequest, project: str, env: str, queue_id: int
) -> HttpResponse:
    environment = environment_for(request, project, env)
    queue = get_queue(environment, queue_id)
    if engine.resume_queue(queue.pk):
        messages.success(request, f"Resumed “{queue.name}”.")
    else:
        messages.info(request, f"“{queue.name}” was not paused.")
    return redirect(env_url("queues", environment))


@login_required
@require_POST
def queue_limit(
    request: HttpRequest, project: str, env: str, queue_id: int
) -> HttpResponse:
    environment = environment_for(request, project, env)
    queue = get_queue(environment, queue_id)
    raw = request.POST.get("limit", "").strip()
    if raw and (not raw.isdigit() or int(raw) > LIMIT_MAX):
        messages.error(
            request,
            f"The limit of “{queue.name}” must be a whole number from 0 to {LIMIT_MAX:,}, "
            "or empty for no limit of its own.",
        )
        return redirect(env_url("queues", environment))

    limit = int(raw) if raw else None
    engine.set_queue_limit(queue.pk, limit)
    words = f"{limit} at a time" if limit is not None else "no limit of its own"
    messages.success(request, f"“{queue.name}” now runs {words}.")
    return redirect(env_url("queues", environment))
