"""The dispatcher gives slots to queued runs within every limit, fairly."""

import importlib
from collections import Counter
from unittest import mock

import psycopg
import pytest
from django.db import connection

from runs.engine import TriggerSpec, dispatch, pause_queue, resume_queue, trigger_run
from runs.engine import waits
from runs.models import DispatchRequest, Queue, Run, RunStatus

# The module, not the function runs.engine re-exports under the same name.
dispatcher = importlib.import_module("runs.engine.dispatch")


@pytest.fixture
def env(project):
    return project.environments["DEVELOPMENT"]


def trigger(env, queue="lane", limit=None, key="", priority=0, count=1):
    spec = TriggerSpec(
        queue_name=queue, queue_concurrency_limit=limit, concurrency_key=key,
        priority_seconds=priority,
    )
    return [trigger_run(env, "echo", spec).run for _ in range(count)]


def dequeued(env):
    return list(Run.objects.filter(environment=env, status=RunStatus.DEQUEUED))


def test_a_queue_never_gets_more_runs_than_its_limit(env):
    trigger(env, limit=2, count=5)

    assert len(dispatch(env.pk)) == 2
    assert dispatch(env.pk) == []

    Run.objects.filter(pk=dequeued(env)[0].pk).update(status=RunStatus.COMPLETED)
    assert len(dispatch(env.pk)) == 1
    assert len(dequeued(env)) == 2


def test_each_concurrency_key_gets_its_own_copy_of_the_limit(env):
    for key in ("a", "b", "c"):
        trigger(env, limit=1, key=key, count=4)

    dispatch(env.pk)

    assert Counter(run.concurrency_key for run in dequeued(env)) == {"a": 1, "b": 1, "c": 1}


def test_the_environment_limit_is_shared_round_robin_across_lanes(env):
    env.concurrency_limit = 4
    env.save()
    trigger(env, queue="first", count=10)
    trigger(env, queue="second", count=10)

    dispatch(env.pk)

    assert Counter(run.queue.name for run in dequeued(env)) == {"first": 2, "second": 2}


def test_a_busy_key_does_not_starve_a_later_key(env):
    env.concurrency_limit = 2
    env.save()
    trigger(env, limit=5, key="busy", count=50)
    late = trigger(env, limit=5, key="late", count=1)[0]

    dispatch(env.pk)

    assert late.pk in {run.pk for run in dequeued(env)}


def test_a_paused_queue_keeps_its_runs_queued_until_resumed(env):
    run = trigger(env, queue="paused")[0]
    pause_queue(run.queue_id)

    assert dispatch(env.pk) == []

    resume_queue(run.queue_id)
    assert dispatch(env.pk) == [run.pk]


def test_priority_orders_a_run_as_if_queued_earlier(env):
    first = trigger(env, limit=1)[0]
    urgent = trigger(env, limit=1, priority=60)[0]

    assert dispatch(env.pk) == [urgent.pk]
    assert Run.objects.get(pk=first.pk).status == RunStatus.QUEUED


def test_a_trigger_can_override_a_queue_limit(env):
    trigger(env, queue="shared", limit=1, count=3)
    trigger(env, queue="shared", limit=3)

    assert Queue.objects.get(environment=env, name="shared").concurrency_limit == 3
    assert len(dispatch(env.pk)) == 3


@pytest.fixture
def other_session():
    """A second database session, as another process running a dispatch pass."""
    settings = connection.settings_dict
    with psycopg.connect(
        dbname=settings["NAME"],
        host=settings["HOST"],
        port=settings["PORT"] or 5432,
        user=settings["USER"],
        autocommit=True,
    ) as session:
        yield session


def test_a_dispatch_never_waits_for_a_pass_holding_the_lock(env, other_session):
    run = trigger(env)[0]
    other_session.execute(
        "SELECT pg_advisory_lock(%s, %s)", [dispatcher.DISPATCH_LOCK_CLASS, env.pk]
    )

    with connection.cursor() as cursor:
        # Waiting for the lock would fail the test instead of hanging it.
        cursor.execute("SET LOCAL lock_timeout = '2s'")
    assert dispatch(env.pk) == []

    # It left a request for the holder instead, which the next pass serves.
    assert DispatchRequest.objects.filter(environment=env).exists()
    assert Run.objects.get(pk=run.pk).status == RunStatus.QUEUED
    other_session.execute(
        "SELECT pg_advisory_unlock(%s, %s)", [dispatcher.DISPATCH_LOCK_CLASS, env.pk]
    )
    assert dispatch(env.pk) == [run.pk]
    assert not DispatchRequest.objects.filter(environment=env).exists()


def test_a_request_left_during_a_pass_gets_a_pass_of_its_own(env, monkeypatch):
    first = trigger(env)[0]
    late = []
    one_pass = dispatcher.dispatch_pass

    def pass_then_a_trigger_arrives(environment_id):
        ids = one_pass(environment_id)
        if not late:
            # Given a trigger that committed during this pass and found the lock taken
            with mock.patch("runs.engine.trigger.request_dispatch"):
                late.extend(trigger(env))
            DispatchRequest.objects.create(environment_id=environment_id)
        return ids

    monkeypatch.setattr(dispatcher, "dispatch_pass", pass_then_a_trigger_arrives)

    assert dispatch(env.pk) == [first.pk, late[0].pk]
    assert not DispatchRequest.objects.filter(environment=env).exists()


def test_a_caller_whose_request_came_too_late_for_the_holder_passes_itself(
    env, monkeypatch
):
    run = trigger(env)[0]
    one_pass = dispatcher.dispatch_pass
    attempts = []

    def lock_let_go_meanwhile(environment_id):
        attempts.append(environment_id)
        if len(attempts) == 1:
            # Given the lock was taken when this call tried it, and is free now
            DispatchRequest.objects.create(environment_id=environment_id)
            return None
        return one_pass(environment_id)

    monkeypatch.setattr(dispatcher, "dispatch_pass", lock_let_go_meanwhile)

    assert dispatch(env.pk) == [run.pk]
    assert not DispatchRequest.objects.filter(environment=env).exists()


def test_a_run_resumed_after_a_wait_keeps_its_priority(env):
    # Given a run of priority 60 waiting, and a run without priority queued before it
    waiting = trigger(env, limit=1, priority=60)[0]
    Run.objects.filter(pk=waiting.pk).update(status=RunStatus.WAITING)
    plain = trigger(env, limit=1)[0]

    # When the wait resolves, the prioritised run joins the queue after the other
    waits.wake_run(waiting.pk)

    # Then it is still dispatched first, as if queued 60 s earlier
    assert dispatch(env.pk) == [waiting.pk]
    assert Run.objects.get(pk=plain.pk).status == RunStatus.QUEUED
