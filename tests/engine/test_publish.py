"""Messages to the broker: one per picked run, sent together; a broker that is gone loses nothing."""

import base64
import json
import logging
import uuid
from contextlib import contextmanager

import pytest
import redis
from kombu import Connection

from runs import publish
from runs.tasks import execute_run

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def broker(monkeypatch):
    """A broker connection under a key prefix of its own, that no worker consumes."""
    prefix = f"test-publish-{uuid.uuid4().hex}:"
    connection = Connection(REDIS_URL, transport_options={"global_keyprefix": prefix})

    @contextmanager
    def producer_or_acquire(*args, **kwargs):
        with connection.Producer() as producer:
            yield producer

    monkeypatch.setattr(execute_run.app, "producer_or_acquire", producer_or_acquire)
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    client.delete(*client.keys(f"{prefix}*") or [f"{prefix}none"])
    connection.release()


def queued_messages(prefix: str) -> dict[str, list]:
    """Each queued message's run id and its [hard, soft] time limits."""
    client = redis.Redis.from_url(REDIS_URL)
    messages = {}
    for raw in client.lrange(f"{prefix}{publish.RUNS_QUEUE}", 0, -1):
        envelope = json.loads(raw)
        args, _kwargs, _embed = json.loads(base64.b64decode(envelope["body"]))
        messages[args[0]] = envelope["headers"]["timelimit"]
    return messages


def test_every_picked_run_gets_one_message_with_its_time_limits(broker):
    picked = [(f"run_{number}", 30 if number == 2 else None) for number in range(3)]

    publish.execute_runs(picked)

    assert queued_messages(broker) == {
        "run_0": [None, None],
        "run_1": [None, None],
        "run_2": [30 + publish.HARD_LIMIT_GRACE_SECONDS, 30],
    }


def test_an_unreachable_broker_is_logged_and_leaves_the_runs_to_the_sweep(
    monkeypatch, caplog
):
    # Port 9 (discard) has no Redis behind it on a test machine.
    connection = Connection("redis://127.0.0.1:9/0")

    @contextmanager
    def producer_or_acquire(*args, **kwargs):
        with connection.Producer() as producer:
            yield producer

    monkeypatch.setattr(execute_run.app, "producer_or_acquire", producer_or_acquire)
    caplog.set_level(logging.WARNING, logger="runs.publish")

    publish.execute_runs([("run_a", None), ("run_b", None)])

    assert [record.action for record in caplog.records] == ["publish_failed"]
    assert "2 runs wait for the sweep" in caplog.records[0].getMessage()
