"""Helpers shared by the dashboard's tests."""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from runs.engine import TriggerSpec, trigger_run
from runs.ids import new_id
from runs.models import Run


def page(name: str, environment, *args) -> str:
    """The URL of a dashboard page of an environment."""
    return reverse(name, args=[environment.project.slug, environment.slug, *args])


def make_run(
    environment,
    task: str = "hello-world",
    spec: TriggerSpec | None = None,
    age: timedelta | None = None,
    **fields,
) -> Run:
    """A run triggered through the engine, then given what a test needs.

    `age` moves its creation into the past, id included, as ids encode it.
    """
    run = trigger_run(
        environment, task, spec or TriggerSpec(payload='{"name":"Ada"}')
    ).run
    if age is not None:
        at = timezone.now() - age
        older_id = new_id("run", int(at.timestamp() * 1000))
        Run.objects.filter(pk=run.pk).update(id=older_id, created_at=at, updated_at=at)
        run = Run.objects.get(pk=older_id)
    if fields:
        Run.objects.filter(pk=run.pk).update(**fields)
        run.refresh_from_db()
    return run


def tagged(*tags: str, payload: str = '{"name":"Ada"}') -> TriggerSpec:
    return TriggerSpec(payload=payload, tags=list(tags))


def minutes_ago(minutes: float):
    return timezone.now() - timedelta(minutes=minutes)


def text(response) -> str:
    return response.content.decode()
