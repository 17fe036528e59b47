import asyncio
import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest

from triggerkit.api import idempotency_keys, tasks
from triggerkit.models import TriggerResult

PARIS_WINTER = timezone(timedelta(hours=1))


def sha256(text):
    return hashlib.sha256(text.encode()).hexdigest()


def test_trigger_posts_the_payload_and_options_by_their_wire_names(server):
    server.reply(
        json={"id": "run_1", "isCached": False}, headers={"x-trigger-jwt": "jwt"}
    )

    result = tasks.trigger(
        "send-email",
        {"to": "ada@example.com"},
        delay="1h30m",
        ttl="10m",
        idempotency_key_ttl="1h",
        queue="paid-users",
        concurrency_key="user_123",
        tags=["user:123", "org:9"],
        metadata={"step": "start"},
        max_attempts=3,
        max_duration=600,
        priority=10,
        machine="small-2x",
    )

    request = server.requests[0]
    assert request.method == "POST"
    assert request.url.path == "/api/v1/tasks/send-email/trigger"
    assert server.body() == {
        "payload": {"to": "ada@example.com"},
        "options": {
            "payloadType": "application/json",
            "delay": "1h30m",
            "ttl": "10m",
            "idempotencyKeyTTL": "1h",
            "queue": {"name": "paid-users"},
            "concurrencyKey": "user_123",
            "tags": ["user:123", "org:9"],
            "metadata": {"step": "start"},
            "maxAttempts": 3,
            "maxDuration": 600,
            "priority": 10,
            "machine": "small-2x",
        },
    }
    assert result == TriggerResult(
        id="run_1", is_cached=False, public_access_token="jwt"
    )


def test_a_task_id_with_a_slash_is_url_encoded(server):
    server.reply(json={"id": "run_1"})

    tasks.trigger("billing/charge")

    assert server.requests[0].url.raw_path == b"/api/v1/tasks/billing%2Fcharge/trigger"


def test_trigger_without_a_payload_sends_no_payload_key(server):
    server.reply(json={"id": "run_1"})

    result = tasks.trigger("nightly-report")

    assert server.body() == {"options": {"payloadType": "application/json"}}
    assert result.is_cached is False
    assert result.public_access_token is None


def test_payload_datetimes_are_sent_as_iso_strings(server):
    server.reply(json={"id": "run_1"})

    tasks.trigger("remind", {"at": datetime(2030, 1, 1, tzinfo=UTC)})

    assert server.body()["payload"] == {"at": "2030-01-01T00:00:00+00:00"}


@pytest.mark.parametrize(
    ("delay", "wire"),
    [
        (datetime(2030, 1, 1, 1, tzinfo=PARIS_WINTER), "2030-01-01T00:00:00.000Z"),
        (timedelta(hours=1, minutes=30), "5400s"),
        (timedelta(milliseconds=1500), "2s"),
        ("2d", "2d"),
    ],
    ids=["datetime", "timedelta", "partial-second", "duration-string"],
)  # fmt: skip
def test_delay_accepts_a_duration_a_datetime_or_a_timedelta(server, delay, wire):
    server.reply(json={"id": "run_1"})

    tasks.trigger("remind", delay=delay)

    assert server.body()["options"]["delay"] == wire


@pytest.mark.parametrize(
    ("ttl", "wire"),
    [(timedelta(hours=1), 3600), (3600, 3600), ("10m", "10m"), (0, 0)],
    ids=["timedelta", "seconds", "duration-string", "none"],
)
def test_ttl_accepts_a_duration_seconds_or_a_timedelta(server, ttl, wire):
    server.reply(json={"id": "run_1"})

    tasks.trigger("remind", ttl=ttl)

    assert server.body()["options"]["ttl"] == wire


def test_a_single_tag_is_sent_as_a_string(server):
    server.reply(json={"id": "run_1"})

    tasks.trigger("remind", tags="solo")

    assert server.body()["options"]["tags"] == "solo"


def test_a_raw_idempotency_key_is_hashed_and_sent_with_the_original(server):
    server.reply(json={"id": "run_1", "isCached": True})

    result = tasks.trigger("charge", {"order": 42}, idempotency_key="order-42")

    options = server.body()["options"]
    assert options["idempotencyKey"] == sha256("order-42")
    assert options["idempotencyKeyOptions"] == {"key": "order-42", "scope": "run"}
    assert result.is_cached is True


def test_a_created_idempotency_key_is_sent_with_its_scope(server):
    server.reply(json={"id": "run_1"})
    key = idempotency_keys.create(["order", "42"])

    tasks.trigger("charge", idempotency_key=key)

    options = server.body()["options"]
    assert options["idempotencyKey"] == sha256("order-42")
    assert options["idempotencyKeyOptions"] == {"key": "order-42", "scope": "global"}


def test_a_key_that_is_already_a_hash_is_sent_unchanged(server):
    server.reply(json={"id": "run_1"})
    hashed = sha256("made elsewhere")

    tasks.trigger("charge", idempotency_key=hashed)

    options = server.body()["options"]
    assert options["idempotencyKey"] == hashed
    assert "idempotencyKeyOptions" not in options


def test_an_unknown_option_raises_type_error_before_any_request(server):
    with pytest.raises(TypeError, match="delay_seconds"):
        tasks.trigger("remind", delay_seconds=5)

    assert server.requests == []


def test_a_negative_timedelta_is_refused(server):
    with pytest.raises(ValueError, match="negative"):
        tasks.trigger("remind", delay=timedelta(seconds=-1))


def test_trigger_async_sends_the_same_request(server):
    server.reply(json={"id": "run_1"})
    server.reply(json={"id": "run_2"})

    tasks.trigger("send-email", {"n": 1}, queue="q", tags=["t"])
    result = asyncio.run(
        tasks.trigger_async("send-email", {"n": 1}, queue="q", tags=["t"])
    )

    sync_request, async_request = server.requests
    assert async_request.url == sync_request.url
    assert async_request.content == sync_request.content
    assert result.id == "run_2"


def test_trigger_and_poll_triggers_then_polls_until_completed(
    server, run_object, completed_run_object
):
    server.reply(json={"id": "run_7"})
    server.reply(json=run_object(id="run_7", status="EXECUTING", isQueued=False))
    server.reply(json=completed_run_object(id="run_7", output={"sent": True}))

    run = tasks.trigger_and_poll("send-email", {"n": 1}, poll_interval=0, tags=["t"])

    assert run.output == {"sent": True}
    assert [r.url.path for r in server.requests] == [
        "/api/v1/tasks/send-email/trigger",
        "/api/v3/runs/run_7",
        "/api/v3/runs/run_7",
    ]
    assert server.body(0)["options"]["tags"] == ["t"]


def test_trigger_and_poll_async_returns_the_completed_run(server, completed_run_object):
    server.reply(json={"id": "run_7"})
    server.reply(json=completed_run_object(id="run_7"))

    run = asyncio.run(tasks.trigger_and_poll_async("send-email", poll_interval=0))

    assert run.is_success
