"""tasks.trigger from the official SDK: output, SuperJSON, options, idempotency."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import jwt


def test_hello_world_triggered_by_the_sdk_completes_with_its_output(node_sdk):
    seen = node_sdk.run(
        "trigger_and_poll.mjs", TASK="hello-world", PAYLOAD={"name": "Ada"}
    )

    handle, polled, retrieved = seen["handle"], seen["polled"], seen["retrieved"]
    assert handle["id"].startswith("run_")
    assert handle["isCached"] is False
    # Only a token issued by the server (not one the SDK signs itself) has this scope.
    assert f"write:inputStreams:{handle['id']}" in scopes(handle["publicAccessToken"])
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

    expected = {
        "when": "2030-01-02T03:04:05.678Z",
        "big": "12345678901234567890",
        "plain": "text",
    }
    assert run["status"] == "COMPLETED"
    assert run["payload"] == expected
    assert run["output"] == expected


def test_trigger_options_show_up_on_the_retrieved_run(node_sdk):
    seen = node_sdk.run("trigger_options.mjs", KEY="order-42")

    full, solo = seen["full"], seen["solo"]
    assert full["status"] == "DELAYED"
    assert full["isQueued"] and not full["isCompleted"]
    assert full["tags"] == ["org:9", "user:123"]
    assert full["metadata"] == {"step": "start", "nested": {"a": 1}}
    assert full["ttl"] == "30m"
    assert full["idempotencyKey"] == "order-42"
    assert full["payload"] == {"name": "Options"}
    delay = parse(full["delayedUntil"]) - parse(seen["triggeredAt"])
    assert timedelta(minutes=59) < delay < timedelta(minutes=61)
    assert "startedAt" not in full and "finishedAt" not in full
    assert seen["inQueue"] == [full["id"]]
    assert seen["onMachine"] == [full["id"]]

    assert solo["status"] == "DELAYED"
    assert solo["tags"] == ["solo"]
    assert solo["ttl"] == "10m"  # the development environment's default

    once = seen["once"]
    assert (once["status"], once["attemptCount"]) == ("FAILED", 1)


def test_the_same_idempotency_key_twice_returns_the_first_run(node_sdk):
    seen = node_sdk.run("idempotency.mjs", KEY="signup-7")

    first, second = seen["first"], seen["second"]
    assert seen["key"] == hashlib.sha256(b"signup-7").hexdigest()
    assert first["isCached"] is False
    assert second == {**second, "id": first["id"], "isCached": True}
    assert seen["run"]["status"] == "COMPLETED"
    assert seen["run"]["payload"] == {"name": "Once"}
    assert seen["run"]["idempotencyKey"] == "signup-7"


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value)


def scopes(token: str) -> list[str]:
    return jwt.decode(token, options={"verify_signature": False})["scopes"]
