"""Registering a worker's tasks: a few statements for any number of tasks."""

from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from runs.engine import TaskDefinition, TriggerSpec, register_tasks, trigger_run
from runs.models import Queue, Run, RunStatus, Task


def test_registering_many_tasks_in_every_environment_takes_a_few_statements(project):
    environments = list(project.environments.values())
    definitions = [TaskDefinition(f"many-{n}", f"task/many-{n}") for n in range(40)]

    with CaptureQueriesContext(connection) as captured:
        register_tasks(definitions, environments)

    # A savepoint (the test runs in a transaction), queues, tasks, pending runs,
    # and its release.
    assert len(captured) == 5, [query["sql"][:80] for query in captured]
    registered = Task.objects.filter(environment__in=environments)
    assert registered.filter(slug__startswith="many-").count() == 40 * len(environments)


def test_a_registered_task_takes_its_new_definition_and_wakes_its_pending_runs(
    project, django_capture_on_commit_callbacks
):
    env = project.environments["STAGING"]
    pending = trigger_run(env, "late-task", TriggerSpec()).run
    assert pending.status == RunStatus.PENDING_VERSION

    first = TaskDefinition("late-task", "shared", 2, retry={"max_attempts": 5})
    with django_capture_on_commit_callbacks(execute=True):
        register_tasks([first], [env])
    register_tasks([TaskDefinition("late-task", "task/late-task")], [env])

    task = Task.objects.select_related("queue").get(environment=env, slug="late-task")
    assert (task.queue.name, task.queue.concurrency_limit) == ("task/late-task", None)
    assert task.retry == {}
    assert Queue.objects.get(environment=env, name="shared").concurrency_limit == 2
    # The run joined the queue it was triggered for, and was dispatched at once.
    assert Run.objects.get(pk=pending.pk).status == RunStatus.DEQUEUED


def test_a_queue_shared_by_several_tasks_is_registered_once(project):
    env = project.environments["STAGING"]
    shared = [TaskDefinition(slug, "together", 3) for slug in ("first", "second")]

    register_tasks(shared, [env])

    together = Queue.objects.get(environment=env, name="together")
    slugs = Task.objects.filter(queue=together).values_list("slug", flat=True)
    assert set(slugs) == {"first", "second"}


def test_a_pending_run_released_by_registration_keeps_its_priority(project):
    env = project.environments["STAGING"]
    pending = trigger_run(env, "late-task", TriggerSpec(priority_seconds=60)).run
    before = timezone.now()

    register_tasks([TaskDefinition("late-task", "task/late-task")], [env])

    released = Run.objects.get(pk=pending.pk)
    assert released.status == RunStatus.QUEUED
    assert released.queue_timestamp <= before - timedelta(seconds=59)
