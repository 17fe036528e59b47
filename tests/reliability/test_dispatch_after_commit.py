"""A trigger is committed, then its dispatch meets a dead database: what does the client hear?

The dispatch after a trigger runs once the run is committed (on_commit), so
the database can die between the two. The run exists and the beat tick will
dispatch it; the client must not be told to retry, or it creates a second run.
"""

from __future__ import annotations

from unittest import mock

import pytest
from django.db import OperationalError
from django.test import Client

from runs.models import Run


def trigger(client, key, request_key=None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    if request_key:
        headers["HTTP_X_TRIGGER_REQUEST_IDEMPOTENCY_KEY"] = request_key
    return client.post(
        "/api/v1/tasks/echo/trigger",
        data='{"payload": {"n": 1}}',
        content_type="application/json",
        **headers,
    )


@pytest.fixture
def dead_dispatch():
    error = OperationalError("server closed the connection unexpectedly")
    with mock.patch("runs.engine.dispatch.dispatch", side_effect=error):
        yield


def test_a_committed_trigger_is_acknowledged_though_its_dispatch_failed(
    transactional_db, project, dead_dispatch
):
    client = Client(raise_request_exception=False)

    response = trigger(client, project.prod)

    assert Run.objects.count() == 1
    assert response.status_code == 200, response.content


def test_with_a_request_key_the_retry_of_such_a_trigger_finds_its_run(
    transactional_db, project, dead_dispatch
):
    client = Client(raise_request_exception=False)

    first = trigger(client, project.prod, request_key="sdk-call-1")
    retried = trigger(client, project.prod, request_key="sdk-call-1")

    assert first.status_code in (200, 503)
    assert retried.status_code == 200
    assert Run.objects.get().pk == retried.json()["id"]
