"""The landing page: the environment the user looked at last."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from dashboard.access import landing_environment
from dashboard.pages import env_url, short_link
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
    return short_link(request, Run, run_id, "run")
