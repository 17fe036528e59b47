"""Neither a secret key nor a payload ever reaches the logs.

Logs travel further than the database (aggregators, support tickets), so
what they say about a run is its id, never its key or its data.
"""

from __future__ import annotations

import logging
import uuid
from unittest import mock

import httpx
import pytest
from django.test import Client

from runs import engine, worker
from runs.models import Run
from tests.live import poll
from tests.security.conftest import Api


def secrets_of(key: str) -> list[str]:
    """The key, and its random part on its own."""
    return [key, key.rsplit("_", 1)[1]]


def everything_logged(records: list[logging.LogRecord]) -> str:
    """Each record's message, arguments, extra fields and exception, as text."""
    parts = []
    for record in records:
        parts.append(record.getMessage())
        parts.append(repr(record.args))
        parts.append(repr(vars(record)))
        if record.exc_info:
            parts.append(logging.Formatter().formatException(record.exc_info))
    return "\n".join(parts)


@pytest.fixture
def everything(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog


def test_triggering_executing_and_reading_a_run_logs_no_key_and_no_payload(
    client, project, everything, capsys
):
    marker = f"marker-{uuid.uuid4().hex}"
    api = Api(client, project.dev)

    # Given a run triggered with a payload that must stay private, and failed requests
    run_id = api.trigger("echo", {"card": marker}, tags=["t"]).json()["id"]
    api.trigger("echo", {"card": marker}, tags=["x" * 200])
    api.trigger("echo", {"card": marker}, key=project.dev[:-1] + "Z")
    api.post("/api/v1/tasks/echo/trigger", raw=f'{{"payload": "{marker}", ')
    # When it is dispatched and executed, then read back, listed and replayed
    engine.dispatch(project.environments["DEVELOPMENT"].pk)
    worker.execute(run_id)
    assert Run.objects.get(pk=run_id).status == "COMPLETED"
    assert marker in api.get(f"/api/v3/runs/{run_id}").content.decode()
    api.get("/api/v1/runs")
    api.post(f"/api/v1/runs/{run_id}/replay", {})

    # Then no log record, nor anything printed, mentions the key or the payload
    logged = everything_logged(everything.records) + "\n".join(capsys.readouterr())
    assert everything.records, "nothing was logged: the check would prove nothing"
    for secret in [marker, *secrets_of(project.dev)]:
        assert secret not in logged


def test_the_running_platform_logs_no_key_and_no_payload(platform, live_project):
    marker = f"marker-{uuid.uuid4().hex}"
    headers = {"Authorization": f"Bearer {live_project.prod}"}

    response = httpx.post(
        f"{platform.url}/api/v1/tasks/echo/trigger",
        json={"payload": {"card": marker}},
        headers=headers,
        timeout=10,
    )
    run_id = response.json()["id"]
    poll(lambda: Run.objects.get(pk=run_id).status == "COMPLETED", timeout=30)
    httpx.get(f"{platform.url}/api/v3/runs/{run_id}", headers=headers, timeout=10)
    httpx.get(
        f"{platform.url}/api/v1/runs",
        headers={"Authorization": "Bearer tr_prod_" + "A" * 24},
    )

    logs = "\n".join(process.log() for process in platform.processes)
    assert run_id in logs, "the platform's logs do not mention the run at all"
    for secret in [marker, *secrets_of(live_project.prod)]:
        assert secret not in logs


def test_values_nothing_can_hold_are_refused_without_logging_them(project, everything):
    marker = f"marker-{uuid.uuid4().hex}"
    api = Api(Client(raise_request_exception=False), project.dev)

    # Given requests whose values fail deep inside, with the payload in the error text
    with mock.patch("runs.engine.trigger_run", side_effect=ValueError(f"bad {marker}")):
        refused = api.trigger("echo", {"card": marker})
    lone_surrogate = api.post(
        "/api/v1/tasks/echo/trigger", raw=f'{{"payload": "{marker}\\ud800"}}'
    )
    nul = api.trigger("echo", {"card": marker}, tags=[f"{marker}\x00"])

    # Then each is a 400 that names neither the value nor the error's text
    for response in (refused, lone_surrogate, nul):
        assert response.status_code == 400, response.content
        assert marker not in response.content.decode()
    # And the logs do not carry them either
    assert everything.records
    assert marker not in everything_logged(everything.records)
