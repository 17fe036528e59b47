"""Fixtures for the SDK's unit tests: no Django, no sockets.

The ``server`` fixture stands in for the API behind an ``httpx.MockTransport``:
each test queues the answers it needs, then reads the requests the SDK sent.
"""

import json
from collections import deque

import httpx
import pytest

from triggerkit import client

SECRET_KEY = "tr_dev_0123456789abcdefghijklmn"
API_URL = "https://triggerkit.test"


class FakeServer:
    """Answers requests in the order they were queued and remembers each request."""

    def __init__(self):
        self.requests: list[httpx.Request] = []
        self._answers: deque = deque()

    def reply(self, status=200, json=None, *, headers=None, content=None):
        """Queue one answer: JSON when ``json`` is given, else raw ``content``."""
        self._answers.append(
            lambda request: httpx.Response(
                status, json=json, headers=headers, content=content
            )
        )

    def fail(self, exc_class=httpx.ConnectError):
        """Queue a network failure instead of an answer."""

        def raise_error(request):
            raise exc_class("connection refused", request=request)

        self._answers.append(raise_error)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        assert self._answers, f"unexpected request {request.method} {request.url}"
        return self._answers.popleft()(request)

    def body(self, index=-1):
        """The JSON body of a request, by its position."""
        return json.loads(self.requests[index].content)


@pytest.fixture(autouse=True)
def clean_sdk(monkeypatch):
    """Start each test with no configuration and none from the environment."""
    for name in ("TRIGGER_SECRET_KEY", "TRIGGER_ACCESS_TOKEN", "TRIGGER_API_URL"):
        monkeypatch.delenv(name, raising=False)
    client.reset()
    yield
    client.reset()


@pytest.fixture
def server():
    """A fake API the SDK is configured against, with near-instant retries."""
    fake = FakeServer()
    transport = httpx.MockTransport(fake)
    client.configure(SECRET_KEY, API_URL, transport=transport, retry_min_delay=0.001)
    return fake


def _run_object(**fields):
    run = {
        "id": "run_1",
        "status": "QUEUED",
        "taskIdentifier": "send-email",
        "createdAt": "2025-01-02T03:04:05.678Z",
        "updatedAt": "2025-01-02T03:04:06.000Z",
        "tags": [],
        "isQueued": True,
        "isExecuting": False,
        "isWaiting": False,
        "isCompleted": False,
        "isSuccess": False,
        "isFailed": False,
        "isCancelled": False,
        "isTest": False,
        "costInCents": 0,
        "baseCostInCents": 0,
        "durationMs": 0,
        "depth": 0,
        "triggerFunction": "trigger",
        "relatedRuns": {},
    }
    run.update(fields)
    return run


@pytest.fixture
def run_object():
    """Build a run object as the API sends it; keyword arguments override fields."""
    return _run_object


@pytest.fixture
def completed_run_object():
    """Build the run object of a run that finished successfully."""

    def build(**fields):
        completion = {"status": "COMPLETED", "isQueued": False, "isCompleted": True}
        return _run_object(**{**completion, "isSuccess": True, **fields})

    return build
