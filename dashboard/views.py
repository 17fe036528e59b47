"""Dashboard pages. Views parse, fetch with a permission check, and render."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from apikeys.models import Environment
from runs.models import Run

RUNS_PER_PAGE = 50


@login_required
def runs_list(request: HttpRequest) -> HttpResponse:
    """The newest runs of the environments the user may see."""
    environments = Environment.objects.filter(project__members=request.user)
    runs = (
        Run.objects.filter(environment__in=environments)
        .select_related("environment__project")
        .order_by("-id")[:RUNS_PER_PAGE]
    )
    template = "dashboard/runs.html#runs-table" if request.htmx else "dashboard/runs.html"
    return render(request, template, {"runs": runs})
