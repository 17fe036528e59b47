"""runs.list, cancel, replay, reschedule and a failing run, through the official SDK."""

from __future__ import annotations

from datetime import datetime, timedelta


def test_runs_list_filters_and_auto_paginates_newest_first(node_sdk):
    seen = node_sdk.run("list_runs.mjs")

    delayed, completed = seen["delayed"], seen["completed"]
    assert seen["filtered"] == list(reversed(delayed))
    assert seen["pages"] == chunks([completed, seen["untagged"], *reversed(delayed)], 3)
    assert seen["byTag"] == {"ids": [completed], "hasNextPage": False}
    assert (seen["inWindow"], seen["beforeWindow"]) == (7, 0)
    [item] = seen["byStatus"]
    assert item["id"] == completed
    assert item["status"] == "COMPLETED"
    assert item["tags"] == ["done", "listed"]
    assert item["env"]["name"] == "dev"


def test_cancel_stops_a_delayed_run_and_leaves_a_finished_one_alone(node_sdk):
    seen = node_sdk.run("cancel.mjs")

    delayed, done = seen["delayed"], seen["done"]
    assert delayed["response"] == {"id": delayed["run"]["id"]}
    assert delayed["run"]["status"] == "CANCELED"
    assert delayed["run"]["isCancelled"] and delayed["run"]["isCompleted"]
    assert delayed["run"]["error"]["message"] == "Canceled by user"
    assert done["response"] == {"id": done["run"]["id"]}
    assert done["run"]["status"] == "COMPLETED"
    assert done["run"]["output"] == {"message": "Hello, Done!"}


def test_replay_creates_a_new_run_with_the_same_payload(node_sdk):
    seen = node_sdk.run("replay.mjs")

    original, replay = seen["original"], seen["replay"]
    assert seen["response"]["id"] == replay["id"] != original["id"]
    assert replay["status"] == "COMPLETED"
    assert replay["payload"] == original["payload"] == {"name": "Again"}
    assert replay["output"] == {"message": "Hello, Again!"}
    assert replay["tags"] == ["replayed"]


def test_reschedule_moves_a_delayed_run_and_refuses_one_that_is_not_delayed(node_sdk):
    seen = node_sdk.run("reschedule.mjs")

    before, rescheduled, after = seen["before"], seen["rescheduled"], seen["after"]
    assert rescheduled["id"] == before["id"]
    assert rescheduled["status"] == after["status"] == "DELAYED"
    moved = parse(after["delayedUntil"]) - parse(before["delayedUntil"])
    assert timedelta(minutes=59) < moved < timedelta(minutes=61)
    assert rescheduled["delayedUntil"] == after["delayedUntil"]
    refused = seen["refused"]["error"]
    assert (refused["class"], refused["status"]) == ("BadRequestError", 400)
    assert "not delayed" in refused["message"]


def test_a_run_that_always_fails_ends_failed_with_its_error(node_sdk):
    seen = node_sdk.run("trigger_and_poll.mjs", TASK="always-fails", PAYLOAD={})

    run = seen["retrieved"]
    assert run["status"] == "FAILED"
    assert run["isFailed"] and run["isCompleted"] and not run["isSuccess"]
    assert run["attemptCount"] == 3
    assert run["error"]["message"] == "attempt 3 failed on purpose"
    assert "RuntimeError" in run["error"]["stackTrace"]
    assert "output" not in run


def chunks(items: list, size: int) -> list[list]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value)
