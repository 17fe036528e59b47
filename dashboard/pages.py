"""Rendering a dashboard page inside its project and environment frame."""

from __future__ import annotations

from typing import Any

from django.db.models import Model
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from apikeys.models import Environment, EnvironmentKind
from dashboard.access import KIND_ORDER, is_production, projects_of

# Pages about one object, and actions, belong to the section of their list,
# which is where the environment switcher leads.
SECTION_OF = {
    "run": "runs",
    "bulk": "runs",
    "task": "tasks",
    "batch": "batches",
    "schedule": "schedules",
    "key": "keys",
    "queue": "queues",
}
SECTIONS = [
    ("runs", "Runs", "r"),
    ("tasks", "Tasks", "t"),
    ("batches", "Batches", "b"),
    ("schedules", "Schedules", "s"),
    ("queues", "Queues", "q"),
    ("keys", "API keys", "k"),
]
SECTION_NAMES = {name for name, _, _ in SECTIONS}
KIND_LABELS = {
    EnvironmentKind.DEVELOPMENT: "Development",
    EnvironmentKind.STAGING: "Staging",
    EnvironmentKind.PRODUCTION: "Production",
}


def env_url(name: str, environment: Environment, *args: Any) -> str:
    return reverse(name, args=[environment.project.slug, environment.slug, *args])


def frame(request: HttpRequest, environment: Environment) -> dict[str, Any]:
    """What the header needs: projects, environments, sections, the current one."""
    match = request.resolver_match
    current = match.url_name if match else "runs"
    section = (
        current
        if current in SECTION_NAMES
        else SECTION_OF.get(current.split("-")[0], "runs")
    )
    project = environment.project
    environments = sorted(
        project.environments.all(), key=lambda env: KIND_ORDER.index(env.kind)
    )
    return {
        "env": environment,
        "project": project,
        "env_label": KIND_LABELS[EnvironmentKind(environment.kind)],
        "production": is_production(environment),
        "section": section,
        "sections": [
            (name, label, key, env_url(name, environment))
            for name, label, key in SECTIONS
        ],
        "env_links": [
            (env, KIND_LABELS[EnvironmentKind(env.kind)], env_url(section, env))
            for env in environments
        ],
        "project_links": [
            (other, reverse(section, args=[other.slug, environment.slug]))
            for other in projects_of(request)
        ],
    }


def render_page(
    request: HttpRequest,
    template: str,
    environment: Environment,
    context: dict[str, Any],
    *,
    fragment: str | None = None,
    status: int = 200,
) -> HttpResponse:
    """Render the whole page, or only `fragment` when htmx asks for it."""
    base = {
        "env": environment,
        "project": environment.project,
        "env_label": KIND_LABELS[EnvironmentKind(environment.kind)],
        "production": is_production(environment),
    }
    if fragment and request.htmx:
        return render(
            request, f"{template}#{fragment}", {**base, **context}, status=status
        )
    return render(
        request, template, {**frame(request, environment), **context}, status=status
    )


def short_link(request: HttpRequest, model: type[Model], pk: str, page: str) -> HttpResponse:
    """Redirect a short link (/runs/<id>, /schedules/<id>) to the object's page in
    its environment, for members of its project; 404 for anyone else."""
    found = (
        model.objects.select_related("environment__project")
        .filter(pk=pk, environment__project__members=request.user)
        .only("id", "environment__kind", "environment__project__slug")
        .first()
    )
    if found is None:
        raise Http404(f"No such {model._meta.verbose_name}")
    return redirect(env_url(page, found.environment, found.pk))
