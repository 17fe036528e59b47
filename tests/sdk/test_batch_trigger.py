import asyncio
import hashlib
import json

import pytest

from triggerkit.api import batch, tasks
from triggerkit.errors import BatchNotSealedError
from triggerkit.models import BatchHandle, BatchStatus

CREATED = {"id": "batch_1", "runCount": 2, "isCached": False}
SEALED = {"id": "batch_1", "itemsAccepted": 2, "itemsDeduplicated": 0, "sealed": True}


def ndjson_lines(request):
    return [json.loads(line) for line in request.content.decode().splitlines()]


def test_batch_trigger_creates_the_batch_then_streams_its_items(server):
    server.reply(202, CREATED, headers={"x-trigger-jwt": "batch-jwt"})
    server.reply(json=SEALED)

    handle = tasks.batch_trigger("send-email", [{"i": 0}, {"i": 1}])

    create, items = server.requests
    assert (create.method, create.url.path) == ("POST", "/api/v3/batches")
    assert json.loads(create.content) == {
        "runCount": 2,
        "taskIdentifiers": ["send-email"],
    }
    assert "x-trigger-request-idempotency-key" in create.headers

    assert (items.method, items.url.path) == ("POST", "/api/v3/batches/batch_1/items")
    assert items.headers["content-type"] == "application/x-ndjson"
    assert "x-trigger-request-idempotency-key" not in items.headers
    assert ndjson_lines(items) == [
        {"index": 0, "task": "send-email", "payload": {"i": 0},
         "options": {"payloadType": "application/json"}},
        {"index": 1, "task": "send-email", "payload": {"i": 1},
         "options": {"payloadType": "application/json"}},
    ]  # fmt: skip
    assert handle == BatchHandle(
        batch_id="batch_1",
        run_count=2,
        is_cached=False,
        public_access_token="batch-jwt",
    )


def test_items_may_carry_their_own_options(server):
    server.reply(202, CREATED)
    server.reply(json=SEALED)

    tasks.batch_trigger(
        "send-email",
        [{"payload": {"i": 0}, "options": {"delay": "5m", "tags": ["t1"]}}, {"i": 1}],
    )

    first, second = ndjson_lines(server.requests[1])
    assert first["payload"] == {"i": 0}
    assert first["options"] == {
        "payloadType": "application/json",
        "delay": "5m",
        "tags": ["t1"],
    }
    assert second["payload"] == {"i": 1}


def test_by_task_items_name_their_tasks(server):
    server.reply(202, {**CREATED, "runCount": 3})
    server.reply(json=SEALED)

    tasks.batch_trigger(
        None,
        [
            ("resize", {"w": 1}),
            ("notify", {"to": "a"}, {"queue": "mail"}),
            ("resize", None),
        ],
    )

    create, items = server.requests
    assert json.loads(create.content)["taskIdentifiers"] == ["notify", "resize"]
    lines = ndjson_lines(items)
    assert [line["task"] for line in lines] == ["resize", "notify", "resize"]
    assert lines[1]["options"]["queue"] == {"name": "mail"}
    assert "payload" not in lines[2]


def test_a_batch_key_is_sent_and_derives_a_key_for_each_item(server):
    server.reply(202, CREATED)
    server.reply(json=SEALED)

    tasks.batch_trigger(
        "send-email",
        [{"i": 0}, {"payload": {"i": 1}, "options": {"idempotency_key": "own"}}],
        idempotency_key="batch-key",
        idempotency_key_ttl="1h",
    )

    create = json.loads(server.requests[0].content)
    assert create["idempotencyKey"] == hashlib.sha256(b"batch-key").hexdigest()
    assert create["idempotencyKeyOptions"] == {"key": "batch-key", "scope": "run"}
    first, second = ndjson_lines(server.requests[1])
    assert (
        first["options"]["idempotencyKey"] == hashlib.sha256(b"batch-key-0").hexdigest()
    )
    assert first["options"]["idempotencyKeyTTL"] == "1h"
    assert second["options"]["idempotencyKey"] == hashlib.sha256(b"own").hexdigest()
    assert second["options"]["idempotencyKeyTTL"] == "1h"


def test_a_cached_batch_skips_the_item_stream(server):
    server.reply(200, {**CREATED, "isCached": True})

    handle = tasks.batch_trigger("send-email", [1, 2], idempotency_key="again")

    assert handle.is_cached is True
    assert len(server.requests) == 1


def test_an_unsealed_batch_is_resent_until_it_is_sealed(server):
    server.reply(202, CREATED)
    server.reply(json={**SEALED, "itemsAccepted": 1, "sealed": False})
    server.reply(json={**SEALED, "itemsAccepted": 1, "itemsDeduplicated": 1})

    tasks.batch_trigger("send-email", [1, 2])

    first, second = server.requests[1:]
    assert second.url.path == first.url.path
    assert second.content == first.content


def test_a_batch_that_never_seals_raises_batch_not_sealed_error(server):
    server.reply(202, CREATED)
    for _ in range(5):
        server.reply(json={**SEALED, "itemsAccepted": 1, "sealed": False})

    with pytest.raises(BatchNotSealedError) as caught:
        tasks.batch_trigger("send-email", [1, 2])

    assert caught.value.batch_id == "batch_1"
    assert caught.value.items_accepted == 1
    assert len(server.requests) == 6


@pytest.mark.parametrize("count", [0, 1001], ids=["empty", "too-many"])
def test_a_batch_outside_1_to_1000_items_is_refused_before_any_request(server, count):
    with pytest.raises(ValueError, match="1 to 1000 items"):
        tasks.batch_trigger("send-email", [{"i": i} for i in range(count)])

    assert server.requests == []


def test_by_task_items_that_are_not_tuples_are_refused(server):
    with pytest.raises(ValueError, match="tuple"):
        tasks.batch_trigger(None, [{"i": 0}])

    assert server.requests == []


def test_batch_trigger_async_sends_both_phases(server):
    server.reply(202, CREATED)
    server.reply(json=SEALED)

    handle = asyncio.run(tasks.batch_trigger_async("send-email", [1, 2]))

    assert handle.batch_id == "batch_1"
    assert ndjson_lines(server.requests[1])[1]["payload"] == 2


def test_batch_retrieve_returns_the_batch_and_its_runs(server):
    server.reply(
        json={
            "id": "batch_1",
            "status": "PROCESSING",
            "createdAt": "2025-01-02T03:04:05Z",
            "updatedAt": "2025-01-02T03:04:06Z",
            "runCount": 2,
            "runs": ["run_a", "run_b"],
            "processing": {"errors": []},
        }
    )

    found = batch.retrieve("batch_1")

    assert server.requests[0].url.path == "/api/v2/batches/batch_1"
    assert found.status is BatchStatus.PROCESSING
    assert found.runs == ["run_a", "run_b"]
    assert found.errors == []
