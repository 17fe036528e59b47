"""The landing page: the environment the user looked at last."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from dashboard.access import landing_environment
from dashboard.pages import env_url
from runs.models import Run


@login_required
def home(request: HttpRequest) -> HttpResponse:
    environment = landing_environment(request)
    if environment is None:
        return render(request, "dashboard/home.html")
    return redirect(env_url("runs", environment))


@login_required
def run_link(request: HttpRequest, run_id: str) -> HttpResponse:
    """A short link to a run (/runs/<id>), as alerts and the CLI print them."""
    run = (
        Run.objects.select_related("environment__project")
        .filter(pk=run_id, environment__project__members=request.user)
        .only("id", "environment__kind", "environment__project__slug")
        .first()
    )
    if run is None:
        raise Http404("No such run")
    return redirect(env_url("run", run.environment, run.pk))
