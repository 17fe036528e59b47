from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.text import slugify

from apikeys.models import Environment, Project, create_api_key, create_project
from runs.engine import copy_known_tasks


class Command(BaseCommand):
    help = "Create a project with its three environments and print one key for each."

    def add_arguments(self, parser) -> None:
        parser.add_argument("name")
        parser.add_argument("--slug", help="defaults to the slugified name")

    def handle(self, *args, name: str, slug: str | None, **options) -> None:
        slug = slug or slugify(name)
        if Project.objects.filter(slug=slug).exists():
            raise CommandError(f"a project with slug {slug!r} already exists")

        with transaction.atomic():
            project = create_project(name, slug)
            environments = list(Environment.objects.filter(project=project).order_by("pk"))
            keys = [(env, create_api_key(env, name="default")[1]) for env in environments]
            for env in environments:
                copy_known_tasks(env)

        self.stdout.write(f"Created project {project.name} ({project.slug}).")
        self.stdout.write("Secret keys (shown once, store them now):")
        for env, raw_key in keys:
            self.stdout.write(f"  {env.get_kind_display():<12} {raw_key}")
