"""The run counters stay exact as runs settle behind the horizon and finish later."""

from datetime import timedelta

import pytest
from django.utils import timezone

from observability import rollup
from observability.models import PendingRun, RollupState
from runs.ids import new_id
from runs.models import Attempt, Queue, Run


@pytest.fixture
def env(project):
    return project.environments["DEVELOPMENT"]


def make_run(env, minutes_ago, status, task="echo"):
    created = timezone.now() - timedelta(minutes=minutes_ago)
    run = Run.objects.create(
        id=new_id("run", int(created.timestamp() * 1000)),
        environment=env,
        task_identifier=task,
        queue=Queue.objects.get(environment=env, name=f"task/{task}"),
        status=status,
        created_at=created,
    )
    if status in ("COMPLETED", "FAILED"):
        Attempt.objects.create(
            run=run,
            number=1,
            status="COMPLETED" if status == "COMPLETED" else "FAILED",
            started_at=created,
            finished_at=created + timedelta(seconds=1),
        )
    return run


def totals_for(env):
    totals = rollup.read_totals()
    return (
        totals.triggered.get((env.pk, "echo"), 0),
        totals.finished.get((env.pk, "echo", "COMPLETED"), 0),
        totals.attempts[(env.pk, "echo", "COMPLETED")].count,
    )


@pytest.fixture
def horizon_an_hour_ago():
    RollupState.objects.update_or_create(
        pk=1,
        defaults={
            "horizon": rollup.id_at(timezone.now() - timedelta(hours=1)),
            "advanced_at": timezone.now(),
        },
    )


@pytest.mark.django_db
def test_advancing_moves_runs_from_the_live_count_to_the_totals_unchanged(
    env, horizon_an_hour_ago
):
    make_run(env, 30, "COMPLETED")
    make_run(env, 20, "QUEUED")
    before = totals_for(env)

    assert rollup.advance()

    assert totals_for(env) == before == (2, 1, 1)
    assert PendingRun.objects.count() == 1


@pytest.mark.django_db
def test_a_pending_run_is_counted_once_when_it_finishes(env, horizon_an_hour_ago):
    pending = make_run(env, 20, "QUEUED")
    rollup.advance()

    Run.objects.filter(pk=pending.pk).update(status="COMPLETED")
    Attempt.objects.create(
        run=pending,
        number=1,
        status="COMPLETED",
        started_at=timezone.now(),
        finished_at=timezone.now(),
    )
    rollup.advance()
    rollup.advance()

    assert totals_for(env) == (1, 1, 1)
    assert not PendingRun.objects.exists()


@pytest.mark.django_db
def test_runs_newer_than_the_settle_time_stay_live(env, horizon_an_hour_ago):
    recent = make_run(env, 0, "COMPLETED")
    rollup.advance()

    assert RollupState.objects.get().horizon < recent.pk
    assert totals_for(env) == (1, 1, 1)


@pytest.mark.django_db
def test_totals_survive_whole_second_buckets_and_many_advances(
    env, horizon_an_hour_ago
):
    for minutes in (50, 40, 30):
        make_run(env, minutes, "COMPLETED")  # each attempt lasts exactly 1 s

    rollup.advance()
    rollup.advance()

    totals = rollup.read_totals()
    histogram = totals.attempts[(env.pk, "echo", "COMPLETED")]
    assert histogram.count == 3 and histogram.total == 3.0
    assert histogram.buckets[rollup.ATTEMPT_BUCKETS_SECONDS.index(1)] == 3
