"""tasks.batchTrigger and batch.retrieve from the official SDK."""

from __future__ import annotations

import jwt


def test_a_batch_of_twenty_items_lists_its_runs_and_they_all_complete(node_sdk):
    seen = node_sdk.run("batch_trigger.mjs")

    result, listed, finished = seen["result"], seen["listed"], seen["finished"]
    assert result["batchId"].startswith("batch_")
    assert result["runCount"] == 20
    token = jwt.decode(result["publicAccessToken"], options={"verify_signature": False})
    assert token["scopes"] == [f"read:batch:{result['batchId']}"]
    assert listed["id"] == result["batchId"]
    assert listed["runCount"] == 20
    assert len(set(listed["runs"])) == 20
    assert [run["status"] for run in finished] == ["COMPLETED"] * 20
    assert [run["payload"] for run in finished] == [
        {"numbers": [i, 100]} for i in range(20)
    ]
    assert [run["output"] for run in finished] == [{"sum": i + 100} for i in range(20)]
    assert {run["batchId"] for run in finished} == {result["batchId"]}
    assert {run["triggerFunction"] for run in finished} == {"batchTrigger"}
    assert seen["final"]["status"] == "COMPLETED"
    assert seen["final"]["processing"]["errors"] == []


def test_a_batch_idempotency_key_returns_the_same_batch_without_new_runs(node_sdk):
    seen = node_sdk.run("batch_idempotency.mjs", KEY="nightly-import")

    first, second, listed = seen["first"], seen["second"], seen["listed"]
    assert second["batchId"] == first["batchId"]
    assert listed["idempotencyKey"] == seen["key"]
    assert listed["runCount"] == 3
    assert sorted(seen["created"]) == sorted(listed["runs"])
    assert len(set(listed["runs"])) == 3
