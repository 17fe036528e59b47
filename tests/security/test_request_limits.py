"""Hostile bodies are refused before they cost memory, and change nothing."""

from __future__ import annotations

import json

import pytest
from django.conf import settings

from runs.models import Batch, Run

FIFTY_MEGABYTES = 50 * 1024 * 1024
NESTING = 100_000


class CountingStream:
    """A request body that is never really there: it counts what the server reads."""

    def __init__(self, size: int | None) -> None:
        self.size = size
        self.read_bytes = 0

    def _take(self, wanted: int) -> bytes:
        if self.size is not None:
            wanted = min(wanted, self.size - self.read_bytes)
        self.read_bytes += wanted
        return b" " * wanted

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = (self.size or 1 << 40) - self.read_bytes
        return self._take(size)

    def readline(self, size: int = -1) -> bytes:
        return self.read(64 * 1024 if size is None or size < 0 else size)


def snapshot():
    return list(Run.objects.values_list("id", "status", "tags", "delay_until")), list(
        Batch.objects.values_list("id", "status", "run_count")
    )


def test_a_fifty_megabyte_trigger_is_refused_without_reading_the_body(client, project):
    body = CountingStream(FIFTY_MEGABYTES)

    response = client.generic(
        "POST",
        "/api/v1/tasks/echo/trigger",
        HTTP_AUTHORIZATION=f"Bearer {project.dev}",
        **{
            "wsgi.input": body,
            "CONTENT_LENGTH": str(FIFTY_MEGABYTES),
            "CONTENT_TYPE": "application/json",
        },
    )

    assert response.status_code == 413
    assert response.json() == {"error": "Request body too large"}
    assert body.read_bytes == 0
    assert not Run.objects.exists()


def test_a_fifty_megabyte_body_without_a_key_is_refused_without_reading_it(
    client, project
):
    body = CountingStream(FIFTY_MEGABYTES)

    response = client.generic(
        "POST",
        "/api/v1/tasks/echo/trigger",
        **{
            "wsgi.input": body,
            "CONTENT_LENGTH": str(FIFTY_MEGABYTES),
            "CONTENT_TYPE": "application/json",
        },
    )

    assert response.status_code == 401
    assert body.read_bytes == 0


def test_an_endless_chunked_batch_stream_is_cut_off_at_the_batch_limit(client, project):
    batch_id = client.post(
        "/api/v3/batches",
        data=json.dumps({"runCount": 1}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {project.dev}",
    ).json()["id"]
    body = CountingStream(None)

    response = client.generic(
        "POST",
        f"/api/v3/batches/{batch_id}/items",
        HTTP_AUTHORIZATION=f"Bearer {project.dev}",
        **{
            "wsgi.input": body,
            "wsgi.input_terminated": True,
            "CONTENT_LENGTH": "",
            "CONTENT_TYPE": "application/x-ndjson",
        },
    )

    assert response.status_code == 413
    assert set(response.json()) == {"error"}
    assert body.read_bytes <= settings.TRIGGERKIT_PAYLOAD_MAX_BYTES + 1024 * 1024 + 1
    assert not Run.objects.exists()


def nested(depth: int = NESTING) -> str:
    return "[" * depth + "]" * depth


@pytest.fixture
def run_ids(api):
    queued = api.trigger("echo", {"n": 1}).json()["id"]
    delayed = api.trigger("echo", {"n": 2}, delay="1h").json()["id"]
    batch = api.post("/api/v3/batches", {"runCount": 1}).json()["id"]
    return {"queued": queued, "delayed": delayed, "batch": batch}


def deep_requests(ids):
    deep = nested()
    return [
        pytest.param(
            "/api/v1/tasks/echo/trigger",
            f'{{"payload": {deep}}}',
            "application/json",
            id="trigger",
        ),
        pytest.param(
            "/api/v1/tasks/echo/trigger",
            f'{{"payload": 1, "options": {{"metadata": {{"a": {deep}}}}}}}',
            "application/json",
            id="trigger-metadata",
        ),
        pytest.param(
            "/api/v1/tasks/batch",
            f'{{"items": [{{"task": "echo", "payload": {deep}}}]}}',
            "application/json",
            id="legacy-batch",
        ),
        pytest.param(
            "/api/v3/batches",
            f'{{"runCount": 1, "idempotencyKeyOptions": {{"a": {deep}}}}}',
            "application/json",
            id="create-batch",
        ),
        pytest.param(
            f"/api/v3/batches/{ids['batch']}/items",
            f'{{"index": 0, "task": "echo", "payload": {deep}}}',
            "application/x-ndjson",
            id="batch-items",
        ),
        pytest.param(
            f"/api/v1/runs/{ids['queued']}/replay",
            f'{{"payload": {deep}}}',
            "application/json",
            id="replay",
        ),
        pytest.param(
            f"/api/v1/runs/{ids['delayed']}/reschedule",
            f'{{"delay": {deep}}}',
            "application/json",
            id="reschedule",
        ),
        pytest.param(
            f"/api/v1/runs/{ids['queued']}/tags",
            f'{{"tags": {deep}}}',
            "application/json",
            id="tags",
        ),
    ]


def test_deeply_nested_json_is_a_400_on_every_endpoint_and_changes_nothing(
    api, run_ids
):
    before = snapshot()

    for param in deep_requests(run_ids):
        path, body, content_type = param.values
        response = api.post(path, raw=body, content_type=content_type)

        assert response.status_code == 400, (
            param.id,
            response.status_code,
            response.content,
        )
        assert isinstance(response.json()["error"], str)

    assert snapshot() == before


@pytest.mark.parametrize("depth", [50, 500, 900, 1000, 5000])
def test_a_payload_nested_near_the_limit_is_stored_and_read_back_or_refused(api, depth):
    response = api.post(
        "/api/v1/tasks/echo/trigger", raw=f'{{"payload": {nested(depth)}}}'
    )

    if response.status_code == 400:
        assert not Run.objects.exists()
        return
    assert response.status_code == 200
    retrieved = api.get(f"/api/v3/runs/{response.json()['id']}")
    assert retrieved.status_code == 200
    assert json.dumps(retrieved.json()["payload"]) == json.dumps(
        json.loads(nested(depth))
    )
