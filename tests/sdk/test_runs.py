import asyncio
import time
from datetime import UTC, datetime

import pytest

from triggerkit.api import runs
from triggerkit.errors import NotFoundError, PollTimeoutError
from triggerkit.models import RunStatus, TriggerResult


def test_retrieve_returns_the_run(server, completed_run_object):
    server.reply(json=completed_run_object(id="run_9", payload={"n": 1}, output=[1, 2]))

    run = runs.retrieve("run_9")

    assert (server.requests[0].method, server.requests[0].url.path) == (
        "GET",
        "/api/v3/runs/run_9",
    )
    assert run.id == "run_9"
    assert run.status is RunStatus.COMPLETED
    assert (run.payload, run.output) == ({"n": 1}, [1, 2])


def test_retrieve_takes_the_id_of_a_trigger_result(server, run_object):
    server.reply(json=run_object(id="run_3"))

    runs.retrieve(TriggerResult(id="run_3", is_cached=False, public_access_token=None))

    assert server.requests[0].url.path == "/api/v3/runs/run_3"


def test_retrieving_an_unknown_run_raises_not_found_at_once(server):
    server.reply(404, {"error": "Run not found"}, headers={"x-should-retry": "false"})

    with pytest.raises(NotFoundError, match="Run not found"):
        runs.retrieve("run_missing")

    assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("content_type", "content", "expected"),
    [
        ("application/json", b'{"big": [1, 2]}', {"big": [1, 2]}),
        (
            "application/super+json",
            b'{"json": {"big": true}, "meta": {}}',
            {"big": True},
        ),
        ("text/plain; charset=utf-8", b"hello", "hello"),
    ],
    ids=["json", "superjson", "text"],
)
def test_presigned_packets_are_downloaded_without_credentials(
    server, completed_run_object, content_type, content, expected
):
    server.reply(
        json=completed_run_object(
            payloadPresignedUrl="https://store.test/p?sig=1",
            outputPresignedUrl="https://store.test/o?sig=2",
        )
    )
    server.reply(headers={"Content-Type": "application/json"}, content=b'"the payload"')
    server.reply(headers={"Content-Type": content_type}, content=content)

    run = runs.retrieve("run_1")

    _, payload_get, output_get = server.requests
    assert (payload_get.method, str(payload_get.url)) == (
        "GET",
        "https://store.test/p?sig=1",
    )
    assert str(output_get.url) == "https://store.test/o?sig=2"
    assert "authorization" not in payload_get.headers
    assert "authorization" not in output_get.headers
    assert run.payload == "the payload"
    assert run.output == expected
    assert run.raw["outputPresignedUrl"] == "https://store.test/o?sig=2"


def test_an_expired_presigned_url_raises_the_mapped_error(server, completed_run_object):
    server.reply(json=completed_run_object(outputPresignedUrl="https://store.test/o"))
    server.reply(404, {"error": "Not found"})

    with pytest.raises(NotFoundError):
        runs.retrieve("run_1")


def test_list_follows_the_next_cursor_across_pages(server, run_object):
    first_page = [run_object(id="run_3"), run_object(id="run_2")]
    server.reply(json={"data": first_page, "pagination": {"next": "cursor-a"}})
    server.reply(
        json={
            "data": [run_object(id="run_1")],
            "pagination": {"next": "cursor-b", "previous": "cursor-x"},
        }
    )
    server.reply(json={"data": [], "pagination": {"previous": "cursor-y"}})

    found = [run.id for run in runs.list(task="send-email", page_size=2)]

    assert found == ["run_3", "run_2", "run_1"]
    filters = {"page[size]": "2", "filter[taskIdentifier]": "send-email"}
    assert [dict(request.url.params) for request in server.requests] == [
        filters,
        {**filters, "page[after]": "cursor-a"},
        {**filters, "page[after]": "cursor-b"},
    ]


def test_list_sends_every_filter_as_the_api_names_it(server):
    server.reply(json={"data": [], "pagination": {}})

    list(
        runs.list(
            status=[RunStatus.COMPLETED, "FAILED"],
            task=["send-email", "resize"],
            tag=["user:123", "org:9"],
            batch="batch_1",
            queue="task/send-email",
            schedule="sched_1",
            is_test=False,
            created_from=datetime(2025, 1, 1, tzinfo=UTC),
            created_to=datetime(2025, 1, 2, tzinfo=UTC),
            period="1d",
        )
    )

    assert dict(server.requests[0].url.params) == {
        "page[size]": "25",
        "filter[status]": "COMPLETED,FAILED",
        "filter[taskIdentifier]": "send-email,resize",
        "filter[tag]": "user:123,org:9",
        "filter[batch]": "batch_1",
        "filter[queue]": "task/send-email",
        "filter[schedule]": "sched_1",
        "filter[isTest]": "false",
        "filter[createdAt][from]": "1735689600000",
        "filter[createdAt][to]": "1735776000000",
        "filter[createdAt][period]": "1d",
    }


def test_list_fetches_nothing_until_iterated_but_checks_filters_at_once(server):
    runs.list(status="QUEUED")
    assert server.requests == []

    with pytest.raises(TypeError, match="statuses"):
        runs.list(statuses=["QUEUED"])


def test_list_page_returns_one_page_and_its_cursors(server, run_object):
    server.reply(json={"data": [run_object(id="run_2")],
                       "pagination": {"next": "n1", "previous": "p1"}})  # fmt: skip

    page = runs.list_page(after="n0", tag="vip")

    assert [run.id for run in page.runs] == ["run_2"]
    assert (page.next_cursor, page.previous_cursor) == ("n1", "p1")
    assert dict(server.requests[0].url.params)["page[after]"] == "n0"


def test_list_async_iterates_every_page(server, run_object):
    server.reply(json={"data": [run_object(id="run_2")], "pagination": {"next": "c"}})
    server.reply(json={"data": [run_object(id="run_1")], "pagination": {}})

    async def collect():
        return [run.id async for run in runs.list_async(status="QUEUED")]

    assert asyncio.run(collect()) == ["run_2", "run_1"]
    assert dict(server.requests[1].url.params)["page[after]"] == "c"


def test_poll_returns_once_the_run_is_completed(
    server, run_object, completed_run_object
):
    server.reply(json=run_object(status="QUEUED"))
    server.reply(json=run_object(status="EXECUTING", isQueued=False, isExecuting=True))
    server.reply(json=completed_run_object(output="done"))

    run = runs.poll("run_1", interval=0)

    assert run.output == "done"
    assert len(server.requests) == 3


def test_poll_ends_for_an_expired_run(server, run_object):
    expired = run_object(
        status="EXPIRED", isQueued=False, isCompleted=True, isFailed=True
    )
    server.reply(json=expired)

    assert runs.poll("run_1", interval=0).status is RunStatus.EXPIRED


def test_poll_gives_up_after_the_timeout(server, run_object):
    for _ in range(20):
        server.reply(json=run_object(status="QUEUED"))

    started = time.monotonic()
    with pytest.raises(PollTimeoutError) as caught:
        runs.poll("run_1", interval=0.02, timeout=0.05)

    assert caught.value.run_id == "run_1"
    assert 0.05 <= time.monotonic() - started < 1


def test_poll_async_returns_the_completed_run(server, run_object, completed_run_object):
    server.reply(json=run_object(status="QUEUED"))
    server.reply(json=completed_run_object())

    run = asyncio.run(runs.poll_async("run_1", interval=0))

    assert run.is_completed


def test_cancel_posts_without_a_body(server):
    server.reply(json={"id": "run_1"})

    assert runs.cancel("run_1") == "run_1"

    request = server.requests[0]
    assert (request.method, request.url.path) == ("POST", "/api/v2/runs/run_1/cancel")
    assert request.content == b""
    assert request.headers["content-length"] == "0"
    assert request.headers["content-type"] == "application/json"


def test_replay_without_overrides_sends_no_body(server):
    server.reply(json={"id": "run_new"})

    assert runs.replay("run_1") == "run_new"

    assert server.requests[0].url.path == "/api/v1/runs/run_1/replay"
    assert server.requests[0].content == b""


def test_replay_with_overrides_sends_them_by_their_wire_names(server):
    server.reply(json={"id": "run_new"})

    runs.replay("run_1", payload={"x": 1}, tags=["r"], queue="slow", ttl=60)

    assert server.body() == {
        "tags": ["r"],
        "queue": {"name": "slow"},
        "ttl": 60,
        "payload": {"x": 1},
        "payloadType": "application/json",
    }


def test_replay_async_returns_the_new_run_id(server):
    server.reply(json={"id": "run_new"})

    assert asyncio.run(runs.replay_async("run_1", metadata={"a": 1})) == "run_new"
    assert server.body() == {"metadata": {"a": 1}}


def test_reschedule_sends_the_delay_and_returns_the_updated_run(server, run_object):
    delayed = run_object(
        status="DELAYED", delayedUntil="2030-01-01T00:00:00.000Z", isQueued=True
    )
    server.reply(json=delayed)

    run = runs.reschedule("run_1", datetime(2030, 1, 1, tzinfo=UTC))

    assert server.requests[0].url.path == "/api/v1/runs/run_1/reschedule"
    assert server.body() == {"delay": "2030-01-01T00:00:00.000Z"}
    assert run.delayed_until == datetime(2030, 1, 1, tzinfo=UTC)


def test_cancel_async_and_reschedule_async_call_the_same_endpoints(server, run_object):
    server.reply(json={"id": "run_1"})
    server.reply(json=run_object(status="DELAYED"))

    async def act():
        await runs.cancel_async("run_1")
        return await runs.reschedule_async("run_1", "2h")

    run = asyncio.run(act())

    assert [r.url.path for r in server.requests] == [
        "/api/v2/runs/run_1/cancel",
        "/api/v1/runs/run_1/reschedule",
    ]
    assert server.body() == {"delay": "2h"}
    assert run.status is RunStatus.DELAYED
