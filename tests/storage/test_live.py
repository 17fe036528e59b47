"""Large payloads and outputs through live platforms, on the local folder and on S3.

Given web, worker and beat with objects in a local folder or in moto, a 2 MB
payload and a 20 MB output come back byte for byte through the Python SDK and
through the presigned URLs fetched with plain HTTP.
"""

import json

import httpx
import pytest

from tests.live import poll
from tests.storage.tasks import pattern
from triggerkit import client as sdk_client
from triggerkit import tasks

MB = 1024 * 1024
STORE = "application/store"
HTTP_TIMEOUT_SECONDS = 60


@pytest.fixture
def sdk(live):
    sdk_client.configure(live.key, live.url)
    yield live
    sdk_client.reset()


def compact(value) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def retrieve(live, run_id: str) -> dict:
    headers = {
        "Authorization": f"Bearer {live.key}",
        "x-trigger-api-version": "2025-07-16",
    }
    response = httpx.get(
        f"{live.url}/api/v3/runs/{run_id}",
        headers=headers,
        timeout=HTTP_TIMEOUT_SECONDS,
    )
    return response.json()


def stored_sizes(live, run_id: str) -> tuple:
    rows = live.query(
        "SELECT payload_type, payload_size, output_type, output_size FROM runs_run WHERE id = %s",
        (run_id,),
    )
    return rows[0]


def test_a_2_mb_payload_round_trips_through_the_python_sdk(sdk):
    payload = {"blob": pattern(2 * MB), "n": 1}

    run = tasks.trigger_and_poll("echo", payload, poll_interval=0.2, timeout=60)

    assert run.status.value == "COMPLETED"
    assert run.payload == payload
    assert run.output == payload
    # The SDK uploaded the payload itself; the worker stored the echoed output.
    size = len(compact(payload))
    assert stored_sizes(sdk, run.id) == (STORE, size, STORE, size)


def test_a_20_mb_output_round_trips_through_the_sdk_and_plain_http(sdk):
    expected = pattern(20_000_000)

    run = tasks.trigger_and_poll(
        "storage-big-output", {"size": 20_000_000}, poll_interval=0.2, timeout=90
    )

    assert run.status.value == "COMPLETED"
    assert run.output == expected
    raw = retrieve(sdk, run.id)
    assert "output" not in raw
    fetched = httpx.get(raw["outputPresignedUrl"], timeout=HTTP_TIMEOUT_SECONDS)
    assert fetched.status_code == 200
    assert fetched.headers["content-type"] == "application/json"
    assert fetched.content == compact(expected)
    assert stored_sizes(sdk, run.id)[2:] == (STORE, 20_000_002)


def test_a_2_mb_payload_sent_inline_over_plain_http_is_stored_by_the_server(live):
    payload = {"blob": pattern(2 * MB), "n": 2}
    headers = {"Authorization": f"Bearer {live.key}"}
    triggered = httpx.post(
        f"{live.url}/api/v1/tasks/echo/trigger",
        json={"payload": payload},
        headers=headers,
        timeout=HTTP_TIMEOUT_SECONDS,
    )
    run_id = triggered.json()["id"]

    run = poll(lambda: (r := retrieve(live, run_id))["isCompleted"] and r, timeout=60)

    assert run["status"] == "COMPLETED"
    assert "payload" not in run and "output" not in run
    for name in ("payloadPresignedUrl", "outputPresignedUrl"):
        fetched = httpx.get(run[name], timeout=HTTP_TIMEOUT_SECONDS)
        assert fetched.headers["content-type"] == "application/json"
        assert fetched.content == compact(payload)
    via_packets = httpx.get(
        f"{live.url}/api/v1/runs/{run_id}/packets/payload", headers=headers
    ).json()["presignedUrl"]
    assert httpx.get(via_packets, timeout=HTTP_TIMEOUT_SECONDS).content == compact(
        payload
    )


def test_an_output_over_100_mb_fails_the_run_with_the_limit_named(sdk):
    objects_before = sdk.object_keys()

    run = tasks.trigger_and_poll(
        "storage-big-output", {"size": 100 * MB}, poll_interval=0.2, timeout=90
    )

    assert run.status.value == "FAILED"
    assert run.attempt_count == 1
    assert run.error.message == (
        f"Output is {100 * MB + 2} bytes; outputs are limited to {100 * MB} bytes "
        "(TRIGGERKIT_OUTPUT_MAX_BYTES)"
    )
    assert sdk.object_keys() == objects_before
