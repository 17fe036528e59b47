import asyncio
import hashlib

import pytest

from triggerkit import api
from triggerkit.api import idempotency_keys


def sha256(text):
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def inside_a_task(monkeypatch):
    """Pretend the code runs in attempt 2 of run_abc."""
    monkeypatch.setattr(api, "_current_run_context", lambda: ("run_abc", 2))


def test_create_hashes_a_single_key():
    key = idempotency_keys.create("order-42")

    assert key == sha256("order-42")
    # The value API.md records from the official SDK: 3bf8b157…edfd.
    assert (key[:8], key[-4:]) == ("3bf8b157", "edfd")
    assert (key.key, key.scope) == ("order-42", "global")


def test_create_joins_the_parts_of_a_list_with_dashes():
    assert idempotency_keys.create(["a", "b"]) == sha256("a-b")


@pytest.mark.parametrize("scope", ["global", "run", "attempt"])
def test_outside_a_task_every_scope_hashes_the_key_alone(scope):
    assert idempotency_keys.create("k", scope=scope) == sha256("k")


def test_the_run_scope_appends_the_run_id_inside_a_task(inside_a_task):
    assert idempotency_keys.create("k", scope="run") == sha256("k-run_abc")


def test_the_attempt_scope_appends_the_run_id_and_attempt_inside_a_task(inside_a_task):
    assert idempotency_keys.create(["a", "b"], scope="attempt") == sha256(
        "a-b-run_abc-2"
    )


def test_the_global_scope_ignores_the_task_context(inside_a_task):
    assert idempotency_keys.create("k") == sha256("k")


def test_an_unknown_scope_is_refused():
    with pytest.raises(ValueError, match="Scope"):
        idempotency_keys.create("k", scope="forever")


def test_reset_posts_the_hashed_key_and_the_task(server):
    server.reply(json={"id": sha256("order-42")})

    assert idempotency_keys.reset("charge", "order-42") == sha256("order-42")

    request = server.requests[0]
    assert request.url.path == f"/api/v1/idempotencyKeys/{sha256('order-42')}/reset"
    assert server.body() == {"taskIdentifier": "charge"}


def test_reset_sends_a_created_key_as_it_is(server, inside_a_task):
    key = idempotency_keys.create("order-42", scope="run")
    server.reply(json={"id": key})

    asyncio.run(idempotency_keys.reset_async("charge", key))

    assert server.requests[0].url.path == f"/api/v1/idempotencyKeys/{key}/reset"
