"""The lease sweep: a killed worker's attempt crashes; its run retries or ends CRASHED.

No worker runs here: an attempt claimed with start_attempt whose heartbeat is
older than the lease is exactly what a worker killed mid-attempt leaves
behind. The sweep gets its clock as `now`.
"""

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from runs.engine import (
    TriggerSpec,
    crash_stale_attempts,
    dispatch,
    promote_due_runs,
    start_attempt,
    trigger_run,
)
from runs.models import Attempt, AttemptStatus, Run, RunStatus
from tests.api.conftest import ApiClient

CRASH_ERROR = {
    "name": "WorkerCrashed",
    "message": "The worker running this attempt stopped",
}


@pytest.fixture
def env(project):
    return project.environments["PRODUCTION"]


@pytest.fixture
def api(project):
    return ApiClient(Client(), project.prod)


def executing(env, max_attempts: int) -> Attempt:
    """A run in its first attempt, claimed by a worker."""
    run = trigger_run(env, "echo", TriggerSpec(max_attempts=max_attempts)).run
    dispatch(env.pk)
    return start_attempt(run.pk, "worker-about-to-be-killed").attempt


def last_heartbeat(attempt: Attempt, seconds_before, now) -> None:
    Attempt.objects.filter(pk=attempt.pk).update(
        heartbeat_at=now - timedelta(seconds=seconds_before)
    )


def attempts_of(run_id: str) -> list[tuple[int, str]]:
    return list(
        Attempt.objects.filter(run_id=run_id)
        .order_by("number", "segment")
        .values_list("number", "status")
    )


def test_a_killed_workers_run_with_no_attempts_left_ends_crashed(env, api):
    # Given a run on its last attempt whose worker stopped renewing the lease
    attempt = executing(env, max_attempts=1)
    now = timezone.now()
    last_heartbeat(attempt, settings.TRIGGERKIT_LEASE_SECONDS + 1, now)

    # When the sweep runs
    before = timezone.now()
    assert crash_stale_attempts(now) == 1
    after = timezone.now()

    # Then the run is CRASHED and finished, with the reason the user reads
    run = Run.objects.get(pk=attempt.run_id)
    assert run.status == RunStatus.CRASHED
    assert run.error == CRASH_ERROR
    assert before <= run.finished_at <= after
    assert run.delay_until is None

    # And its only attempt is CRASHED and ended with the same error
    assert attempts_of(run.pk) == [(1, AttemptStatus.CRASHED)]
    crashed = Attempt.objects.get(pk=attempt.pk)
    assert crashed.error == CRASH_ERROR
    assert before <= crashed.finished_at <= after

    # And the API shows a failed, finished run
    shown = api.get(f"/api/v3/runs/{run.pk}").json()
    assert shown["status"] == "CRASHED"
    assert (shown["isCompleted"], shown["isFailed"]) == (True, True)
    assert shown["error"] == CRASH_ERROR
    assert "finishedAt" in shown


def test_a_killed_workers_run_with_attempts_left_is_retried(env, api):
    # Given a run on the first of two attempts whose worker stopped renewing the lease
    attempt = executing(env, max_attempts=2)
    now = timezone.now()
    last_heartbeat(attempt, settings.TRIGGERKIT_LEASE_SECONDS + 1, now)

    # When the sweep runs
    before = timezone.now()
    assert crash_stale_attempts(now) == 1

    # Then the attempt is CRASHED, and the run waits for its retry, not finished
    run = Run.objects.get(pk=attempt.run_id)
    assert run.status == RunStatus.RETRYING
    assert run.error == CRASH_ERROR
    assert run.finished_at is None
    assert run.delay_until > before
    assert attempts_of(run.pk) == [(1, AttemptStatus.CRASHED)]
    assert Attempt.objects.get(pk=attempt.pk).error == CRASH_ERROR
    shown = api.get(f"/api/v3/runs/{run.pk}").json()
    assert (shown["isCompleted"], shown["isFailed"]) == (False, False)
    assert "finishedAt" not in shown

    # And once the retry is due, the run starts its second attempt
    assert promote_due_runs(run.delay_until) == 1
    dispatch(env.pk)
    retried = start_attempt(run.pk, "another-worker")
    assert retried is not None and retried.attempt.number == 2
    assert Run.objects.get(pk=run.pk).status == RunStatus.EXECUTING
    assert attempts_of(run.pk) == [
        (1, AttemptStatus.CRASHED),
        (2, AttemptStatus.EXECUTING),
    ]


def test_an_attempt_whose_lease_still_holds_is_left_running(env):
    # Given a slow attempt whose worker renewed the lease not long ago
    attempt = executing(env, max_attempts=1)
    now = timezone.now()
    last_heartbeat(attempt, settings.TRIGGERKIT_LEASE_SECONDS - 1, now)

    # When the sweep runs
    assert crash_stale_attempts(now) == 0

    # Then nothing changed: the run and its attempt are still executing
    run = Run.objects.get(pk=attempt.run_id)
    assert (run.status, run.error, run.finished_at) == (RunStatus.EXECUTING, None, None)
    assert attempts_of(run.pk) == [(1, AttemptStatus.EXECUTING)]
