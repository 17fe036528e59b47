"""The Python SDK against a live platform: trigger, batch, list, cancel, replay, retries."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest

import triggerkit
from tests.live import ROOT, poll
from triggerkit import Queue, RunStatus, runs, tasks


@pytest.fixture
def sdk(platform, live_project):
    triggerkit.configure(live_project.dev, platform.url, retry_min_delay=0.05)
    yield live_project
    triggerkit.configure()


def test_the_example_script_triggers_a_run_and_prints_its_output(platform, live_project):
    env = {"TRIGGER_SECRET_KEY": live_project.dev, "TRIGGER_API_URL": platform.url, "PATH": ""}
    result = subprocess.run(
        [sys.executable, "examples/trigger_hello.py", "Ada"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=90,
    )

    assert result.returncode == 0, result.stderr
    run_id, status, message = result.stdout.strip().split(" ", 2)
    assert run_id.startswith("run_")
    assert (status, message) == ("COMPLETED", "Hello, Ada!")


def test_an_async_function_task_completes_through_the_async_client(sdk):
    import asyncio

    async def main():
        handle = await tasks.trigger_async("add-numbers", {"numbers": [1, 2, 3]})
        return await runs.poll_async(handle.id, interval=0.1, timeout=30)

    run = asyncio.run(main())

    assert run.status is RunStatus.COMPLETED
    assert run.output == {"sum": 6}


def test_a_thousand_item_batch_completes_and_lists_by_status_task_and_tag(sdk):
    tag = f"batch-{uuid.uuid4().hex[:8]}"
    items = [{"payload": {"i": i}, "options": {"tags": [tag, f"n{i % 2}"]}} for i in range(1000)]

    handle = tasks.batch_trigger("echo", items)

    assert handle.run_count == 1000
    batch = triggerkit.batch.retrieve(handle.batch_id)
    assert len(batch.runs) == 1000 and len(set(batch.runs)) == 1000

    def all_completed():
        done = list(runs.list(tag=tag, status="COMPLETED", task="echo", page_size=100))
        return done if len(done) == 1000 else None

    completed = poll(all_completed, timeout=240, interval=1)
    assert {run.id for run in completed} == set(batch.runs)
    odd = list(runs.list(tag=[tag], status=["COMPLETED"], page_size=100))
    assert len(odd) == 1000
    page = runs.list_page(tag="n1", task="echo", batch=handle.batch_id, page_size=100)
    assert len(page.runs) == 100 and page.next_cursor
    second = runs.list_page(after=page.next_cursor, tag="n1", batch=handle.batch_id, page_size=100)
    assert not {run.id for run in page.runs} & {run.id for run in second.runs}
    outputs = {runs.retrieve(run_id).output["i"] for run_id in batch.runs[:5]}
    assert outputs == {0, 1, 2, 3, 4}


def test_a_task_that_raises_is_retried_with_backoff_then_fails(sdk, live_db):
    from runs.models import Attempt

    handle = tasks.trigger("always-fails", {})

    run = runs.poll(handle.id, interval=0.2, timeout=60)

    assert run.status is RunStatus.FAILED
    assert run.attempt_count == 3
    assert run.error.message == "attempt 3 failed on purpose"
    assert "RuntimeError" in run.error.stack_trace
    assert "always_fails" in run.error.stack_trace
    attempts = list(Attempt.objects.filter(run_id=handle.id).order_by("number"))
    gaps = [(b.started_at - a.finished_at).total_seconds() for a, b in zip(attempts, attempts[1:])]
    assert len(gaps) == 2 and gaps[0] >= 0.15 and gaps[1] >= 0.3


def test_an_abort_error_fails_the_run_without_retrying(sdk):
    run = tasks.trigger_and_poll("abort-at-once", {}, poll_interval=0.2, timeout=30)

    assert run.status is RunStatus.FAILED
    assert run.attempt_count == 1
    assert run.error.name == "AbortTaskRunError"


def test_a_cancelled_queued_run_never_starts(sdk, live_db):
    from runs.models import Attempt

    blocked = Queue(f"blocked-{uuid.uuid4().hex[:8]}", concurrency_limit=0)
    handle = tasks.trigger("hello-world", {"name": "never"}, queue=blocked)
    assert runs.retrieve(handle.id).status is RunStatus.QUEUED

    runs.cancel(handle.id)

    run = runs.retrieve(handle.id)
    assert run.status is RunStatus.CANCELED
    assert run.error.message == "Canceled by user"
    assert run.started_at is None
    assert not Attempt.objects.filter(run_id=handle.id).exists()


def test_a_replay_creates_a_new_run_with_the_same_payload(sdk):
    first = tasks.trigger_and_poll("hello-world", {"name": "Ada"}, poll_interval=0.2, timeout=30)

    replay_id = runs.replay(first.id)

    replayed = runs.poll(replay_id, interval=0.2, timeout=30)
    assert replayed.id != first.id
    assert replayed.payload == {"name": "Ada"}
    assert replayed.output == {"message": "Hello, Ada!"}


def test_a_replay_can_change_the_payload(sdk):
    first = tasks.trigger_and_poll("hello-world", {"name": "Ada"}, poll_interval=0.2, timeout=30)

    replayed = runs.poll(runs.replay(first.id, payload={"name": "Grace"}), interval=0.2, timeout=30)

    assert replayed.output == {"message": "Hello, Grace!"}


def test_a_wrong_key_raises_an_authentication_error(platform):
    triggerkit.configure("tr_dev_" + "x" * 24, platform.url, retry_min_delay=0.01)
    try:
        with pytest.raises(triggerkit.AuthenticationError) as raised:
            tasks.trigger("hello-world", {})
    finally:
        triggerkit.configure()
    assert raised.value.status == 401


def test_another_environments_run_raises_not_found(sdk, platform):
    handle = tasks.trigger("hello-world", {"name": "Ada"})
    triggerkit.configure(sdk.staging, platform.url, retry_min_delay=0.01)

    with pytest.raises(triggerkit.NotFoundError):
        runs.retrieve(handle.id)
