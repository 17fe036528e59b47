"""tasks.trigger from the official SDK: outputs, SuperJSON payloads, options, idempotency."""

from __future__ import annotations


def test_hello_world_triggered_by_the_sdk_completes_with_its_output(node_sdk):
    seen = node_sdk.run("trigger_and_poll.mjs", TASK="hello-world", PAYLOAD={"name": "Ada"})

    handle, polled, retrieved = seen["handle"], seen["polled"], seen["retrieved"]
    assert handle["id"].startswith("run_")
    assert handle["isCached"] is False
    assert handle["publicAccessToken"]
    for run in (polled, retrieved):
        assert run["id"] == handle["id"]
        assert run["status"] == "COMPLETED"
        assert run["isCompleted"] and run["isSuccess"] and not run["isFailed"]
        assert run["taskIdentifier"] == "hello-world"
        assert run["payload"] == {"name": "Ada"}
        assert run["output"] == {"message": "Hello, Ada!"}
    assert retrieved["attemptCount"] == 1
    assert retrieved["startedAt"] <= retrieved["finishedAt"]


def test_a_superjson_payload_comes_back_as_plain_json(node_sdk):
    run = node_sdk.run("superjson_payload.mjs")["run"]

    expected = {"when": "2030-01-02T03:04:05.678Z", "big": "12345678901234567890", "plain": "text"}
    assert run["status"] == "COMPLETED"
    assert run["payload"] == expected
    assert run["output"] == expected
