"""`manage.py create_key <project-slug> <dev|stg|prod>`: a new secret key, shown once.

The key alone goes to stdout so that scripts can capture it:

    export TRIGGER_SECRET_KEY=$(python manage.py create_key demo dev)
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apikeys.models import ENV_SLUGS, ApiKey, Environment, Project, create_api_key

KINDS_BY_SLUG = {slug: kind for kind, slug in ENV_SLUGS.items()}


class Command(BaseCommand):
    help = "Create a secret key for one environment of a project; print it once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("project", help="the project's slug, e.g. demo")
        parser.add_argument("environment", choices=list(KINDS_BY_SLUG))
        parser.add_argument("--name", default="default", help="a label for the key")

    def handle(
        self, *args, project: str, environment: str, name: str, **options
    ) -> None:
        max_length = ApiKey._meta.get_field("name").max_length
        if not name.strip() or len(name) > max_length:
            raise CommandError(f"--name must be 1 to {max_length} characters")

        target = find_environment(project, environment)
        _, raw_key = create_api_key(target, name=name)
        self.stdout.write(raw_key)
        self.stderr.write(
            f"Created key {name!r} for {target}. Store it now: it is shown only once.",
            style_func=self.style.WARNING,
        )


def find_environment(project_slug: str, environment_slug: str) -> Environment:
    project = Project.objects.filter(slug=project_slug).first()
    if project is None:
        slugs = Project.objects.order_by("slug").values_list("slug", flat=True)
        known = ", ".join(slugs) or "none"
        raise CommandError(f"no project with slug {project_slug!r} (known: {known})")

    kind = KINDS_BY_SLUG[environment_slug]
    environment = Environment.objects.filter(project=project, kind=kind).first()
    if environment is None:
        raise CommandError(
            f"project {project_slug!r} has no {environment_slug} environment"
        )
    return environment
