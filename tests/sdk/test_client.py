import asyncio
import json
import subprocess
import sys
import time
import uuid

import httpx
import pytest

from triggerkit import client
from triggerkit.api import tasks
from triggerkit.client import ApiRequest, get_async_client, get_client
from triggerkit.errors import (
    ApiConnectionError,
    ApiError,
    BadRequestError,
    ConfigurationError,
    InternalServerError,
    NotFoundError,
    RateLimitError,
)

TRIGGERED = {"id": "run_1", "isCached": False}


def test_requests_carry_the_headers_the_official_sdk_sends(server):
    server.reply(json=TRIGGERED)

    tasks.trigger("send-email", {"to": "ada@example.com"})

    headers = server.requests[0].headers
    assert headers["authorization"] == "Bearer tr_dev_0123456789abcdefghijklmn"
    assert headers["content-type"] == "application/json"
    assert headers["x-trigger-api-version"] == "2025-07-16"
    assert headers["x-trigger-source"] == "sdk"
    assert headers["trigger-version"].startswith("triggerkit-python/")
    assert uuid.UUID(headers["x-trigger-request-idempotency-key"]).version == 4


def test_each_call_gets_a_new_request_idempotency_key(server):
    server.reply(json=TRIGGERED)
    server.reply(json=TRIGGERED)

    tasks.trigger("send-email")
    tasks.trigger("send-email")

    first, second = (
        r.headers["x-trigger-request-idempotency-key"] for r in server.requests
    )
    assert first != second


def test_the_environment_is_read_at_the_first_call_not_at_import(monkeypatch):
    seen = []
    client.reset()
    monkeypatch.setenv("TRIGGER_SECRET_KEY", "tr_dev_fromtheenvironment000000")
    monkeypatch.setenv("TRIGGER_API_URL", "https://jobs.example.com/")
    client.configure(transport=httpx.MockTransport(_answer(seen, json=TRIGGERED)))

    tasks.trigger("send-email")

    assert (
        str(seen[0].url) == "https://jobs.example.com/api/v1/tasks/send-email/trigger"
    )
    assert seen[0].headers["authorization"] == "Bearer tr_dev_fromtheenvironment000000"


def test_the_access_token_is_the_fallback_secret_key(monkeypatch):
    monkeypatch.setenv("TRIGGER_ACCESS_TOKEN", "tr_dev_accesstoken00000000000000")

    assert client.get_config().secret_key == "tr_dev_accesstoken00000000000000"


def test_the_api_url_defaults_to_localhost_and_loses_its_trailing_slash(monkeypatch):
    monkeypatch.setenv("TRIGGER_SECRET_KEY", "tr_dev_x")
    assert client.get_config().api_url == "http://localhost:8000"

    client.configure(api_url="http://jobs.internal:9000/triggerkit/")
    assert client.get_config().api_url == "http://jobs.internal:9000/triggerkit"


def test_calling_without_a_secret_key_raises_configuration_error():
    with pytest.raises(ConfigurationError, match="TRIGGER_SECRET_KEY"):
        tasks.trigger("send-email")


def test_configure_rejects_fewer_than_one_attempt():
    with pytest.raises(ConfigurationError):
        client.configure("tr_dev_x", max_attempts=0)


def test_a_500_is_retried_with_the_same_request_idempotency_key(server):
    server.reply(500, {"error": "database hiccup"})
    server.reply(503, {"error": "database hiccup"})
    server.reply(json=TRIGGERED)

    result = tasks.trigger("send-email", {"n": 1})

    assert result.id == "run_1"
    keys = {r.headers["x-trigger-request-idempotency-key"] for r in server.requests}
    assert len(server.requests) == 3
    assert len(keys) == 1
    assert {r.content for r in server.requests} == {server.requests[0].content}


def test_retries_stop_after_max_attempts_and_raise_the_mapped_error(server):
    for _ in range(5):
        server.reply(500, {"error": "still broken"})

    with pytest.raises(InternalServerError, match="still broken") as caught:
        tasks.trigger("send-email")

    assert caught.value.status == 500
    assert len(server.requests) == 5


def test_a_404_raises_not_found_error_without_retrying(server):
    server.reply(404, {"error": "Task not found"})

    with pytest.raises(NotFoundError, match="Task not found"):
        tasks.trigger("send-email")

    assert len(server.requests) == 1


@pytest.mark.parametrize("status", [408, 409, 429, 502])
def test_retryable_statuses_are_retried(server, status):
    server.reply(status, {"error": "try again"})
    server.reply(json=TRIGGERED)

    tasks.trigger("send-email")

    assert len(server.requests) == 2


def test_x_should_retry_true_retries_even_a_400(server):
    server.reply(400, {"error": "replica lag"}, headers={"x-should-retry": "true"})
    server.reply(json=TRIGGERED)

    tasks.trigger("send-email")

    assert len(server.requests) == 2


def test_x_should_retry_false_stops_even_a_503(server):
    server.reply(503, {"error": "broken for good"}, headers={"x-should-retry": "false"})

    with pytest.raises(InternalServerError):
        tasks.trigger("send-email")

    assert len(server.requests) == 1


def test_retry_delays_grow_by_the_factor(monkeypatch):
    seen, sleeps = [], []
    monkeypatch.setattr(client.time, "sleep", sleeps.append)
    client.configure(
        "tr_dev_x",
        transport=httpx.MockTransport(_answer(seen, status=500, json={"error": "x"})),
        retry_min_delay=1.0,
        retry_factor=1.6,
    )

    with pytest.raises(InternalServerError):
        tasks.trigger("send-email")

    assert sleeps == pytest.approx([1.0, 1.6, 2.56, 4.096])


def test_network_errors_are_retried_then_raise_api_connection_error(server):
    for _ in range(4):
        server.fail()
    server.fail(httpx.ReadTimeout)

    with pytest.raises(ApiConnectionError, match="ReadTimeout") as caught:
        tasks.trigger("send-email")

    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)
    assert len(server.requests) == 5


def test_a_network_error_then_success_returns_the_result(server):
    server.fail()
    server.reply(json=TRIGGERED)

    assert tasks.trigger("send-email").id == "run_1"


def test_a_429_waits_until_the_rate_limit_resets(server):
    reset_ms = int((time.time() + 0.3) * 1000)
    server.reply(
        429, {"error": "slow down"}, headers={"x-ratelimit-reset": str(reset_ms)}
    )
    server.reply(json=TRIGGERED)

    started = time.monotonic()
    tasks.trigger("send-email")

    assert time.monotonic() - started >= 0.2
    assert len(server.requests) == 2


def test_a_429_with_a_past_reset_uses_the_normal_delay(server):
    reset_ms = int((time.time() - 60) * 1000)
    for _ in range(5):
        server.reply(
            429, {"error": "slow down"}, headers={"x-ratelimit-reset": str(reset_ms)}
        )

    started = time.monotonic()
    with pytest.raises(RateLimitError):
        tasks.trigger("send-email")

    assert time.monotonic() - started < 0.5


def test_a_2xx_that_is_not_json_raises_an_api_error(server):
    server.reply(200, content=b"<html>proxy page</html>")

    with pytest.raises(ApiError, match="not valid JSON"):
        get_client().send(ApiRequest("GET", "/api/v3/runs/run_1"))


def test_the_error_body_and_headers_are_kept_on_the_error(server):
    body = {"error": "Query Error", "details": [{"path": "filter[status]"}]}
    server.reply(400, body, headers={"x-request-id": "abc"})

    with pytest.raises(BadRequestError) as caught:
        get_client().send(ApiRequest("GET", "/api/v1/runs"))

    assert caught.value.body == body
    assert caught.value.headers["x-request-id"] == "abc"


def test_the_async_client_sends_the_same_headers_and_retries(server):
    server.reply(500, {"error": "hiccup"})
    server.reply(json=TRIGGERED)

    result = asyncio.run(tasks.trigger_async("send-email", {"n": 1}))

    assert result.id == "run_1"
    first, second = server.requests
    assert first.headers["x-trigger-api-version"] == "2025-07-16"
    assert (
        first.headers["x-trigger-request-idempotency-key"]
        == second.headers["x-trigger-request-idempotency-key"]
    )
    assert json.loads(second.content)["payload"] == {"n": 1}


def test_each_event_loop_gets_its_own_async_client(server):
    async def current_client():
        return get_async_client()

    first = asyncio.run(current_client())
    second = asyncio.run(current_client())

    assert first is not second


def test_the_sdk_can_call_a_wsgi_application_without_sockets():
    def application(environ, start_response):
        body = json.dumps({"id": "run_" + environ["PATH_INFO"].split("/")[4]})
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body.encode()]

    client.configure("tr_dev_x", transport=httpx.WSGITransport(app=application))

    assert tasks.trigger("wsgi").id == "run_wsgi"


def _answer(seen, status=200, json=None):
    def handler(request):
        seen.append(request)
        return httpx.Response(status, json=json)

    return handler


def test_the_sdk_imports_neither_django_nor_the_server_apps():
    script = (
        "import sys, triggerkit.api, triggerkit.client, triggerkit.errors, "
        "triggerkit.models\n"
        "server = ('django', 'config', 'runs', 'apikeys', 'dashboard')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in server))"
    )

    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "[]"
