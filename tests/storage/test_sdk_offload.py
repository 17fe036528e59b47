"""The Python SDK uploads large payloads itself, through the same packet endpoints."""

import asyncio
import json

import httpx
import pytest

from runs.models import Run
from triggerkit import client as sdk_client
from triggerkit import runs, tasks

STORE = "application/store"


def django_transport(client) -> httpx.MockTransport:
    """Send the SDK's requests through Django's test client (one database connection)."""

    def handle(request: httpx.Request) -> httpx.Response:
        headers = {
            k: v for k, v in request.headers.items() if k.lower() != "content-type"
        }
        response = client.generic(
            request.method,
            request.url.raw_path.decode(),
            data=request.content,
            content_type=request.headers.get("content-type", ""),
            headers=headers,
        )
        content = (
            b"".join(response.streaming_content)
            if response.streaming
            else response.content
        )
        return httpx.Response(
            response.status_code, headers=dict(response.items()), content=content
        )

    return httpx.MockTransport(handle)


# In-process uploads can reach the local store only; tests/storage/test_live.py covers S3.
local_store_only = pytest.mark.parametrize("object_store", ["local"], indirect=True)


@pytest.fixture
def sdk(client, project, object_store):
    sdk_client.configure(
        project.dev, "http://testserver", transport=django_transport(client)
    )
    yield
    sdk_client.reset()


@local_store_only
def test_a_payload_over_the_threshold_is_uploaded_before_the_trigger(sdk, object_store):
    payload = {"blob": "z" * (600 * 1024)}

    handle = tasks.trigger("echo", payload)

    run = Run.objects.get(pk=handle.id)
    assert run.payload_type == STORE
    assert object_store.keys() == {run.payload_key}
    assert run.payload_size == len(sdk_client.dumps_json(payload))
    assert runs.retrieve(handle.id).payload == payload


@local_store_only
def test_a_small_payload_is_sent_inline(sdk, object_store):
    handle = tasks.trigger("echo", {"small": True})

    assert Run.objects.get(pk=handle.id).payload_key is None
    assert object_store.keys() == set()


@local_store_only
def test_large_batch_items_are_uploaded_one_by_one(sdk, object_store):
    handle = tasks.batch_trigger("echo", [{"blob": "a" * (600 * 1024)}, {"small": 1}])

    runs = list(Run.objects.filter(batch_id=handle.batch_id).order_by("batch_index"))
    assert [run.payload_type for run in runs] == [STORE, "application/json"]
    assert object_store.keys() == {runs[0].payload_key}


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_failed_upload_is_retried_before_the_trigger_names_it(mode):
    seen = []

    def server(request: httpx.Request) -> httpx.Response:
        seen.append(
            f"{request.method} {request.url.host}{request.url.raw_path.decode()}"
        )
        if request.url.host == "objects.test":
            return httpx.Response(503 if len(seen) == 2 else 200)
        if request.method == "PUT":
            body = {
                "presignedUrl": "https://objects.test/put?sig=1",
                "storagePath": "packets/p/x.json",
            }
            return httpx.Response(200, json=body)
        seen.append(json.loads(request.content))
        return httpx.Response(200, json={"id": "run_x"})

    transport = httpx.MockTransport(server)
    sdk_client.configure(
        "tr_dev_x", "https://api.test", transport=transport, retry_min_delay=0
    )
    payload = {"blob": "v" * (600 * 1024)}
    try:
        if mode == "sync":
            tasks.trigger("echo", payload)
        else:
            asyncio.run(tasks.trigger_async("echo", payload))
    finally:
        sdk_client.reset()

    created, failed, uploaded, triggered, body = seen
    assert created.startswith("PUT api.test/api/v2/packets/trigger%2Fpacket_")
    assert failed == uploaded == "PUT objects.test/put?sig=1"
    assert triggered == "POST api.test/api/v1/tasks/echo/trigger"
    assert body["payload"] == "packets/p/x.json"
    assert body["options"] == {
        "payloadType": STORE,
        "payloadSize": len(sdk_client.dumps_json(payload)),
    }
