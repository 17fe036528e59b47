"""Subtasks and durable waits on a live platform (worker concurrency 2)."""

from __future__ import annotations

import json

import pytest

from runs.models import Attempt, Run
from tests.live import poll
from tests.options.test_concurrency_live import max_overlap
from triggerkit import RunStatus, runs, tasks


def finish(handle, timeout=120):
    return runs.poll(handle.id, interval=0.2, timeout=timeout)


def test_fifty_sequential_children_on_a_limit_of_one_complete_without_deadlock(sdk):
    run = finish(tasks.trigger("parent-sequential", {"n": 50}), timeout=240)

    assert run.status is RunStatus.COMPLETED, run.error
    assert run.output == {"outputs": list(range(50))}
    children = Run.objects.filter(parent_run_id=run.id)
    assert children.count() == 50
    intervals = [
        (out["started"], out["finished"]) for out in (json.loads(c.output) for c in children)
    ]
    assert max_overlap(intervals) == 1
    # Code before the first wait runs on every execution: the first, then 50 resumes.
    assert run.metadata["executions"] == 51


def test_children_are_linked_to_their_parent_and_root(sdk):
    run = finish(tasks.trigger("greet-team", {"names": ["Ada", "Grace"]}))

    assert run.output == {"greetings": ["Hello, Ada!", "Hello, Grace!"]}
    related = run.related_runs
    assert len(related["children"]) == 2
    child = runs.retrieve(related["children"][0]["id"])
    assert child.depth == 1
    assert child.trigger_function == "batchTriggerAndWait"
    assert child.related_runs["parent"]["id"] == run.id
    assert child.related_runs["root"]["id"] == run.id


def test_twenty_parents_with_fifty_children_each_complete_without_holding_slots(sdk):
    handles = [tasks.trigger("parent-batch", {"n": 50}) for _ in range(20)]

    finished = [finish(handle, timeout=300) for handle in handles]

    assert all(run.status is RunStatus.COMPLETED for run in finished)
    assert all(run.output == {"ok": True, "outputs": list(range(50))} for run in finished)
    # Each parent ran twice (before and after its wait) and its segments were short:
    # while it waited it held no worker slot, or 1,000 children on 2 slots could not run.
    parent_ids = [run.id for run in finished]
    segments = Attempt.objects.filter(run_id__in=parent_ids)
    assert segments.count() == 40
    assert set(segments.values_list("status", flat=True)) == {"SUSPENDED", "COMPLETED"}
    busy = sum((s.finished_at - s.started_at).total_seconds() for s in segments)
    first = min(s.started_at for s in segments)
    last = max(s.finished_at for s in segments)
    assert busy < (last - first).total_seconds() * 2 / 4


def test_a_failed_child_resolves_the_wait_with_its_error(sdk):
    run = finish(tasks.trigger("parent-handles-failure", {}))

    assert run.status is RunStatus.COMPLETED
    assert run.output["ok"] is False
    assert run.output["message"] == "bad input"
    assert runs.retrieve(run.output["child"]).status is RunStatus.FAILED


def test_a_batch_returns_results_in_item_order_past_failures(sdk):
    run = finish(tasks.trigger("parent-mixed-batch", {}))

    assert run.output == {"ok": [True, False, True], "errors": [None, "second", None]}


def test_code_that_waits_differently_on_resume_fails_with_an_explanation(sdk):
    run = finish(tasks.trigger("parent-nondeterministic", {}))

    assert run.status is RunStatus.FAILED
    assert "same order" in run.error.message
    assert run.error.name == "NonDeterministicError"


@pytest.mark.parametrize("task_id", ["parent-gather", "parent-thread"])
def test_waiting_on_two_things_at_once_points_to_batch_trigger_and_wait(sdk, task_id):
    run = finish(tasks.trigger(task_id, {}))

    assert run.status is RunStatus.FAILED
    assert run.error.name == "ConcurrentWaitError"
    assert "batch_trigger_and_wait" in run.error.message


def test_wait_for_suspends_and_resumes_the_run(sdk):
    run = finish(tasks.trigger("parent-wait-for", {"seconds": 1}))

    assert run.output == {"waited": True}
    assert len(run.metadata["before_wait"]) == 2
    waited = run.metadata["before_wait"][1] - run.metadata["before_wait"][0]
    assert 1 <= waited < 3


def test_cancelling_a_waiting_parent_cancels_its_child(sdk):
    handle = tasks.trigger("parent-waits-on-sleeper", {"seconds": 60})
    poll(lambda: runs.retrieve(handle.id).status is RunStatus.WAITING, timeout=30)
    child_id = runs.retrieve(handle.id).related_runs["children"][0]["id"]

    runs.cancel(handle.id)

    assert runs.retrieve(handle.id).status is RunStatus.CANCELED
    assert runs.retrieve(child_id).status is RunStatus.CANCELED


def test_a_waiting_parent_shows_as_waiting(sdk):
    handle = tasks.trigger("parent-waits-on-sleeper", {"seconds": 2})

    waiting = poll(lambda: (r := runs.retrieve(handle.id)).status is RunStatus.WAITING and r, timeout=30)

    assert waiting.is_waiting
    assert finish(handle).output == {"child_ok": True}


def test_waits_outside_a_task_say_so():
    from triggerkit import OutsideTaskError, tasks as sdk_tasks, wait

    with pytest.raises(OutsideTaskError, match="inside a running task"):
        wait.for_(seconds=1)
    with pytest.raises(OutsideTaskError):
        sdk_tasks.trigger_and_wait("echo", {})
