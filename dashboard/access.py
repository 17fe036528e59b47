"""Who may see what: every page belongs to an environment of a project the user is in.

A page of a project the user is not a member of answers 404, as if it did not
exist, so that project names and run ids do not leak.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest

from apikeys.models import ENV_SLUGS, Environment, EnvironmentKind, Project

KIND_BY_SLUG = {slug: kind for kind, slug in ENV_SLUGS.items()}
KIND_ORDER = [
    EnvironmentKind.DEVELOPMENT,
    EnvironmentKind.STAGING,
    EnvironmentKind.PRODUCTION,
]
LAST_ENVIRONMENT_SESSION_KEY = "dashboard_environment"


def environment_for(
    request: HttpRequest, project_slug: str, env_slug: str
) -> Environment:
    """The environment a URL names, if the signed-in user is a member of its project."""
    kind = KIND_BY_SLUG.get(env_slug)
    environment = (
        Environment.objects.select_related("project")
        .filter(project__slug=project_slug, kind=kind, project__members=request.user)
        .first()
    )
    if kind is None or environment is None:
        raise Http404("No such environment")
    if request.session.get(LAST_ENVIRONMENT_SESSION_KEY) != environment.pk:
        request.session[LAST_ENVIRONMENT_SESSION_KEY] = environment.pk
    return environment


def projects_of(request: HttpRequest) -> list[Project]:
    return list(Project.objects.filter(members=request.user).order_by("name"))


def landing_environment(request: HttpRequest) -> Environment | None:
    """The environment the user looked at last, else the first project's development."""
    member_envs = Environment.objects.select_related("project").filter(
        project__members=request.user
    )
    last = request.session.get(LAST_ENVIRONMENT_SESSION_KEY)
    environment = member_envs.filter(pk=last).first() if last else None
    return environment or (
        member_envs.filter(kind=EnvironmentKind.DEVELOPMENT)
        .order_by("project__name")
        .first()
    )


def is_production(environment: Environment) -> bool:
    return environment.kind == EnvironmentKind.PRODUCTION
