"""Bulk actions whose message or worker was lost are resumed by the beat sweep.

No broker here: publishing is replaced by a list of the ids it would send, and
the sweep is called with a clock of the test's choosing.
"""

from datetime import timedelta

import pytest
from django.utils import timezone
from kombu.exceptions import OperationalError

from runs import beat, tasks
from runs.engine import TriggerSpec, bulk, trigger_run
from runs.models import BulkAction, BulkActionKind, BulkActionStatus, Run, RunStatus

STALL = timedelta(seconds=bulk.BULK_STALL_SECONDS)


@pytest.fixture
def env(project):
    return project.environments["DEVELOPMENT"]


@pytest.fixture
def published(monkeypatch):
    """The bulk action ids sent to the broker, which nothing consumes."""
    sent = []
    monkeypatch.setattr(bulk, "publish_bulk_action", sent.append)
    return sent


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(bulk, "CHUNK_SIZE", 2)


def delayed_runs(env, count):
    due = timezone.now() + timedelta(hours=1)
    spec = TriggerSpec(payload="{}", delay_until=due)
    return [trigger_run(env, "echo", spec).run for _ in range(count)]


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """A block whose on-commit callbacks run at its end, as after a real commit."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def create(django_capture_on_commit_callbacks):
    """Create a bulk action over runs; its message goes out as the request commits."""

    def create(env, kind, runs):
        with django_capture_on_commit_callbacks(execute=True):
            return bulk.create_bulk_action(env, kind, run_ids=[run.pk for run in runs])

    return create


def replays_of(runs):
    return {
        run.pk: Run.objects.filter(replayed_from=run).count() for run in runs
    }


def test_a_pending_action_whose_message_was_lost_is_published_again(
    env, create, published, committed
):
    # Given a bulk cancel whose message never reached a worker
    runs = delayed_runs(env, 3)
    action = create(env, BulkActionKind.CANCEL, runs)
    assert published == [action.pk]
    published.clear()
    created = BulkAction.objects.get(pk=action.pk).progress_at

    # When the sweep looks before and after it has stalled for long enough
    with committed():
        early = bulk.resume_stalled_bulk_actions(created + STALL - timedelta(seconds=1))
    with committed():
        late = bulk.resume_stalled_bulk_actions(created + STALL + timedelta(seconds=1))

    # Then only the late sweep publishes it, and the message carries it out
    assert (early, late) == (0, 1)
    assert published == [action.pk]
    bulk.perform_bulk_action(action.pk)
    action.refresh_from_db()
    assert (action.status, action.processed, action.succeeded) == (
        BulkActionStatus.COMPLETED,
        3,
        3,
    )
    assert {run.status for run in Run.objects.filter(pk__in=[r.pk for r in runs])} == {
        RunStatus.CANCELED
    }


def test_the_sweep_waits_again_before_republishing_into_a_broker_still_down(
    env, create, published, committed
):
    runs = delayed_runs(env, 1)
    action = create(env, BulkActionKind.CANCEL, runs)
    later = timezone.now() + STALL + timedelta(seconds=1)

    with committed():
        first = bulk.resume_stalled_bulk_actions(later)
        again = bulk.resume_stalled_bulk_actions(later + timedelta(seconds=5))

    assert (first, again) == (1, 0)
    assert published == [action.pk, action.pk]
    assert BulkAction.objects.get(pk=action.pk).status == BulkActionStatus.PENDING


def test_an_action_created_while_the_broker_is_down_stays_pending_for_the_sweep(
    env, create, monkeypatch, caplog
):
    def broker_down(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(tasks.bulk_action, "apply_async", broker_down)
    runs = delayed_runs(env, 1)

    action = create(env, BulkActionKind.CANCEL, runs)

    assert BulkAction.objects.get(pk=action.pk).status == BulkActionStatus.PENDING
    assert "bulk_action_publish_failed" in [
        getattr(record, "action", "") for record in caplog.records
    ]


def test_a_replay_whose_worker_died_resumes_below_its_cursor(
    env, create, published, small_chunks, committed
):
    # Given a bulk replay of five runs whose worker died after its first chunk
    runs = delayed_runs(env, 5)
    action = create(env, BulkActionKind.REPLAY, runs)
    BulkAction.objects.filter(pk=action.pk).update(status=BulkActionStatus.RUNNING)
    assert bulk.handle_next_chunk(action)
    stopped = BulkAction.objects.get(pk=action.pk)
    assert (stopped.processed, stopped.cursor) == (2, sorted(r.pk for r in runs)[-2])

    # When the sweep finds it stalled and a worker takes it up
    with committed():
        resumed = bulk.resume_stalled_bulk_actions(stopped.progress_at + STALL * 2)
    assert resumed == 1
    assert BulkAction.objects.get(pk=action.pk).status == BulkActionStatus.PENDING
    bulk.perform_bulk_action(action.pk)

    # Then every run was replayed exactly once and the counters add up
    action.refresh_from_db()
    assert replays_of(runs) == {run.pk: 1 for run in runs}
    assert (action.status, action.total, action.processed, action.succeeded) == (
        BulkActionStatus.COMPLETED,
        5,
        5,
        5,
    )


def test_a_worker_killed_inside_a_chunk_leaves_that_chunk_undone(
    env, create, published, small_chunks, monkeypatch, committed
):
    # Given a bulk replay whose worker is killed after replaying the first run
    # of its second chunk (BaseException: nothing in the worker catches it)
    runs = delayed_runs(env, 4)
    action = create(env, BulkActionKind.REPLAY, runs)
    real_apply = bulk.apply_to_run
    calls = []

    def killed_in_the_second_chunk(action, run):
        calls.append(run.pk)
        done = real_apply(action, run)
        if len(calls) == 3:
            raise KeyboardInterrupt("worker killed")
        return done

    monkeypatch.setattr(bulk, "apply_to_run", killed_in_the_second_chunk)
    with pytest.raises(KeyboardInterrupt):
        bulk.perform_bulk_action(action.pk)
    monkeypatch.setattr(bulk, "apply_to_run", real_apply)

    # Then the replay made in the interrupted chunk was rolled back with it
    stopped = BulkAction.objects.get(pk=action.pk)
    assert (stopped.status, stopped.processed) == (BulkActionStatus.RUNNING, 2)
    assert sum(replays_of(runs).values()) == 2

    # When the sweep resumes it, every run ends up replayed exactly once
    with committed():
        bulk.resume_stalled_bulk_actions(timezone.now() + STALL * 2)
    bulk.perform_bulk_action(action.pk)
    assert replays_of(runs) == {run.pk: 1 for run in runs}
    assert BulkAction.objects.get(pk=action.pk).processed == 4


def test_a_worker_the_sweep_gave_up_on_stops_at_its_next_chunk(
    env, create, published, small_chunks, committed
):
    runs = delayed_runs(env, 4)
    action = create(env, BulkActionKind.CANCEL, runs)
    BulkAction.objects.filter(pk=action.pk).update(status=BulkActionStatus.RUNNING)
    assert bulk.handle_next_chunk(action)

    # The slow worker's action is handed on while it is between two chunks.
    with committed():
        bulk.resume_stalled_bulk_actions(timezone.now() + STALL * 2)

    assert not bulk.handle_next_chunk(action)
    assert BulkAction.objects.get(pk=action.pk).processed == 2


def test_a_running_action_that_keeps_moving_is_left_alone(
    env, create, published, committed
):
    runs = delayed_runs(env, 1)
    action = create(env, BulkActionKind.CANCEL, runs)
    BulkAction.objects.filter(pk=action.pk).update(status=BulkActionStatus.RUNNING)
    published.clear()

    with committed():
        resumed = bulk.resume_stalled_bulk_actions(timezone.now() + STALL / 2)

    assert resumed == 0
    assert published == []
    assert BulkAction.objects.get(pk=action.pk).status == BulkActionStatus.RUNNING


def test_finished_actions_are_never_published_again(
    env, create, published, committed
):
    runs = delayed_runs(env, 1)
    action = create(env, BulkActionKind.CANCEL, runs)
    bulk.perform_bulk_action(action.pk)
    published.clear()

    with committed():
        resumed = bulk.resume_stalled_bulk_actions(timezone.now() + STALL * 10)

    assert resumed == 0
    assert published == []


def test_the_beat_sweep_resumes_stalled_bulk_actions(
    env, create, published, committed
):
    runs = delayed_runs(env, 1)
    action = create(env, BulkActionKind.CANCEL, runs)
    BulkAction.objects.filter(pk=action.pk).update(
        progress_at=timezone.now() - STALL * 2
    )
    published.clear()

    with committed():
        beat.sweep()

    assert published == [action.pk]
