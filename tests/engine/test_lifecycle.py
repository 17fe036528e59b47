"""Claiming and ending attempts: numbering, the zombie guard, when a slot dispatches."""

import pytest

from runs.engine import (
    TriggerSpec,
    complete_attempt,
    dispatch,
    fail_attempt,
    start_attempt,
    trigger_run,
)
from runs.models import Attempt, AttemptStatus, Run, RunStatus


@pytest.fixture
def env(project):
    return project.environments["PRODUCTION"]


def trigger(env, queue="lane", limit=None, count=1):
    spec = TriggerSpec(queue_name=queue, queue_concurrency_limit=limit)
    return [trigger_run(env, "echo", spec).run for _ in range(count)]


def started(env, run):
    dispatch(env.pk)
    return start_attempt(run.pk, "test-worker")


def status_of(run):
    return Run.objects.get(pk=run.pk).status


def test_the_first_start_is_attempt_one_and_counts_on_the_run(env):
    run = trigger(env)[0]

    attempt = started(env, run).attempt

    assert (attempt.number, attempt.segment) == (1, 0)
    assert Attempt.objects.get(pk=attempt.pk).status == AttemptStatus.EXECUTING
    claimed = Run.objects.get(pk=run.pk)
    assert (claimed.status, claimed.attempt_count) == (RunStatus.EXECUTING, 1)
    assert claimed.started_at is not None


def test_a_run_is_claimed_once(env):
    run = trigger(env)[0]
    assert started(env, run) is not None

    assert start_attempt(run.pk, "another-worker") is None
    assert Attempt.objects.filter(run=run).count() == 1


def test_a_retry_starts_the_next_attempt(env):
    run = trigger(env)[0]
    first = started(env, run).attempt
    fail_attempt(first, {"message": "boom"}, [])
    Run.objects.filter(pk=run.pk).update(status=RunStatus.QUEUED)

    second = started(env, run).attempt

    assert (second.number, second.segment) == (2, 0)
    assert Run.objects.get(pk=run.pk).attempt_count == 2


def test_a_resumed_run_continues_its_attempt_as_a_new_segment(env):
    run = trigger(env)[0]
    first = started(env, run).attempt
    Attempt.objects.filter(pk=first.pk).update(status=AttemptStatus.SUSPENDED)
    Run.objects.filter(pk=run.pk).update(status=RunStatus.QUEUED)

    resumed = started(env, run).attempt

    assert (resumed.number, resumed.segment) == (1, 1)
    assert Run.objects.get(pk=run.pk).attempt_count == 1


def test_an_attempt_ended_elsewhere_leaves_the_run_alone(env):
    run = trigger(env)[0]
    attempt = started(env, run).attempt
    Attempt.objects.filter(pk=attempt.pk).update(status=AttemptStatus.CRASHED)

    assert complete_attempt(attempt, '"late"', "application/json", []) is False
    assert fail_attempt(attempt, {"message": "late"}, []) is None
    assert status_of(run) == RunStatus.EXECUTING


def test_a_completion_on_a_limited_queue_starts_the_next_run_at_once(
    env, django_capture_on_commit_callbacks
):
    first, second = trigger(env, queue="one-at-a-time", limit=1, count=2)
    attempt = started(env, first).attempt
    assert status_of(second) == RunStatus.QUEUED

    with django_capture_on_commit_callbacks(execute=True):
        assert complete_attempt(attempt, '"done"', "application/json", [])

    assert status_of(first) == RunStatus.COMPLETED
    assert status_of(second) == RunStatus.DEQUEUED


def test_a_failure_frees_its_slot_the_same_way(env, django_capture_on_commit_callbacks):
    first, second = trigger(env, queue="one-at-a-time", limit=1, count=2)
    attempt = started(env, first).attempt

    with django_capture_on_commit_callbacks(execute=True):
        fail_attempt(attempt, {"message": "boom"}, [], retryable=False)

    assert status_of(first) == RunStatus.FAILED
    assert status_of(second) == RunStatus.DEQUEUED


def test_a_completion_with_few_dequeued_runs_refills_the_environment(
    env, django_capture_on_commit_callbacks
):
    env.concurrency_limit = 2
    env.save()
    first, second, third = trigger(env, count=3)
    attempt = started(env, first).attempt

    with django_capture_on_commit_callbacks(execute=True):
        complete_attempt(attempt, '"done"', "application/json", [])

    assert [status_of(run) for run in (second, third)] == [RunStatus.DEQUEUED] * 2


def test_a_completion_behind_a_deep_dequeued_backlog_leaves_the_refill_to_later(
    env, django_capture_on_commit_callbacks
):
    # Given a full environment: 30 runs wait DEQUEUED in the broker, one more QUEUED
    env.concurrency_limit = 31
    env.save()
    runs = trigger(env, count=32)
    attempt = started(env, runs[0]).attempt
    assert status_of(runs[-1]) == RunStatus.QUEUED

    # When the executing run completes
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        complete_attempt(attempt, '"done"', "application/json", [])

    # Then no dispatch pass runs for it; a later one (beat's tick) gives the slot
    assert callbacks == []
    assert status_of(runs[-1]) == RunStatus.QUEUED
    assert dispatch(env.pk) == [runs[-1].pk]


def test_a_completion_with_nothing_queued_runs_no_dispatch_pass(
    env, django_capture_on_commit_callbacks
):
    run = trigger(env, queue="one-at-a-time", limit=1)[0]
    attempt = started(env, run).attempt

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert complete_attempt(attempt, '"done"', "application/json", [])

    assert callbacks == []
