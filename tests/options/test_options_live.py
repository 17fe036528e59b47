"""Trigger options on a live platform: idempotency, delay, TTL, max duration, metadata."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx

from runs.engine import pause_queue
from runs.models import Attempt, Queue, Run
from tests.live import poll
from triggerkit import Queue as QueueOption
from triggerkit import RunStatus, runs, tasks


def test_fifty_concurrent_triggers_with_one_key_create_one_run(sdk, platform):
    key = f"order-{uuid.uuid4().hex}"
    headers = {"Authorization": f"Bearer {sdk.dev}"}
    body = {"payload": {"name": "Ada"}, "options": {"idempotencyKey": key}}

    def send(_):
        with httpx.Client(base_url=platform.url, headers=headers, timeout=30) as client:
            return client.post("/api/v1/tasks/hello-world/trigger", json=body).json()

    with ThreadPoolExecutor(max_workers=50) as pool:
        responses = list(pool.map(send, range(50)))

    ids = {response["id"] for response in responses}
    assert len(ids) == 1
    assert sum(not response["isCached"] for response in responses) == 1
    assert Run.objects.filter(idempotency_key=key).count() == 1


def test_a_delayed_run_starts_within_a_second_of_its_time(sdk):
    handle = tasks.trigger("hello-world", {"name": "later"}, delay="2s")
    delayed = runs.retrieve(handle.id)
    assert delayed.status is RunStatus.DELAYED

    run = runs.poll(handle.id, interval=0.1, timeout=20)

    assert run.status is RunStatus.COMPLETED
    lateness = (run.started_at - delayed.delayed_until).total_seconds()
    assert 0 <= lateness < 1, lateness


def test_a_rescheduled_run_starts_at_its_new_time(sdk):
    handle = tasks.trigger("hello-world", {"name": "moved"}, delay="1h")

    moved = runs.reschedule(handle.id, "2s")

    assert moved.status is RunStatus.DELAYED
    assert moved.delayed_until < moved.created_at + timedelta(seconds=10)
    run = runs.poll(handle.id, interval=0.1, timeout=20)
    assert run.status is RunStatus.COMPLETED
    assert 0 <= (run.started_at - moved.delayed_until).total_seconds() < 1


def test_a_run_with_a_one_second_ttl_on_a_paused_queue_expires(sdk):
    name = f"paused-{uuid.uuid4().hex[:8]}"
    queue = Queue.objects.create(environment=sdk.environments["DEVELOPMENT"], name=name)
    pause_queue(queue.pk)
    handle = tasks.trigger("hello-world", {}, queue=name, ttl=1)

    run = runs.poll(handle.id, interval=0.2, timeout=20)

    assert run.status is RunStatus.EXPIRED
    assert run.error.message == "Run expired because the TTL (1s) was reached"
    assert run.is_completed and run.is_failed
    assert run.started_at is None


def test_a_run_past_its_max_duration_times_out_and_the_worker_goes_on(sdk):
    handle = tasks.trigger("sleep", {"seconds": 30}, max_duration=5)

    run = runs.poll(handle.id, interval=0.2, timeout=40)

    assert run.status is RunStatus.TIMED_OUT
    assert "maximum duration of 5s" in run.error.message
    after = tasks.trigger_and_poll("hello-world", {"name": "next"}, poll_interval=0.1, timeout=30)
    assert after.status is RunStatus.COMPLETED


def test_metadata_updates_are_visible_while_the_run_executes(sdk):
    handle = tasks.trigger("count-to", {"n": 8, "pause": 0.4})

    def mid_run():
        run = runs.retrieve(handle.id)
        count = (run.metadata or {}).get("count", 0)
        return run if run.status is RunStatus.EXECUTING and 0 < count < 8 else None

    executing = poll(mid_run, timeout=30, interval=0.1)
    assert executing.metadata["status"] == "counting"

    run = runs.poll(handle.id, interval=0.2, timeout=30)
    assert run.output == {"count": 8}
    assert run.metadata["status"] == "done"
    assert run.metadata["log"][-1] == "reached 8"
    assert "counted:8" in run.tags


def test_cancelling_an_executing_run_stops_its_attempt(sdk):
    handle = tasks.trigger("sleep", {"seconds": 60})
    poll(lambda: runs.retrieve(handle.id).status is RunStatus.EXECUTING, timeout=30)

    runs.cancel(handle.id)

    assert runs.retrieve(handle.id).status is RunStatus.CANCELED
    attempt = poll(
        lambda: Attempt.objects.filter(run_id=handle.id, finished_at__isnull=False).first(),
        timeout=15,
    )
    assert attempt.status == "CANCELED"
    assert (attempt.finished_at - attempt.started_at).total_seconds() < 20


def test_a_run_with_priority_overtakes_older_runs_in_a_busy_queue(sdk):
    lane = QueueOption(f"one-at-a-time-{uuid.uuid4().hex[:6]}", concurrency_limit=1)
    blocker = tasks.trigger("sleep", {"seconds": 1}, queue=lane)
    poll(lambda: runs.retrieve(blocker.id).status is RunStatus.EXECUTING, timeout=30)
    ordinary = tasks.trigger("hello-world", {"name": "ordinary"}, queue=lane)
    urgent = tasks.trigger("hello-world", {"name": "urgent"}, queue=lane, priority=30)

    first = runs.poll(urgent.id, interval=0.1, timeout=30)
    second = runs.poll(ordinary.id, interval=0.1, timeout=30)

    assert first.started_at < second.started_at


def test_outside_a_task_metadata_helpers_explain_themselves():
    import pytest

    from triggerkit import OutsideTaskError, metadata

    with pytest.raises(OutsideTaskError, match="inside a running task"):
        metadata.set("step", 1)
