"""Large payloads and outputs with the official TypeScript SDK, on both object stores.

The SDK uploads payloads of 128 KB and more itself and triggers with
``application/store``; runs.retrieve downloads presigned values by their
Content-Type. Each test runs on a platform storing objects in a local folder and
on one storing them in S3 (moto), from tests/storage/live.py.
"""

from __future__ import annotations

import json

import httpx
import pytest

from tests.interop.node import NodeSDK
from tests.storage.live import shared_live_store
from tests.storage.tasks import pattern

MB = 1024 * 1024
SUPERJSON = "application/super+json"


@pytest.fixture(scope="session")
def local_live(tmp_path_factory):
    with shared_live_store("local", tmp_path_factory) as live:
        yield live


@pytest.fixture(scope="session")
def s3_live(tmp_path_factory):
    with shared_live_store("s3", tmp_path_factory) as live:
        yield live


@pytest.fixture(params=["local", "s3"])
def live(request):
    return request.getfixturevalue(f"{request.param}_live")


@pytest.fixture
def node(node_packages, live) -> NodeSDK:
    return NodeSDK(live.url, live.key)


def retrieve(live, run_id: str) -> dict:
    headers = {
        "Authorization": f"Bearer {live.key}",
        "x-trigger-api-version": "2025-07-16",
    }
    return httpx.get(
        f"{live.url}/api/v3/runs/{run_id}", headers=headers, timeout=60
    ).json()


def test_a_2_mb_payload_is_uploaded_by_the_sdk_and_comes_back_byte_for_byte(node, live):
    seen = node.run("large_payload.mjs", SCENARIO="round-trip")

    assert seen["status"] == "COMPLETED"
    assert seen["payloadMatches"] and seen["outputMatches"]
    # The SDK uploaded it as SuperJSON; plain HTTP gets those very bytes back.
    run = retrieve(live, seen["id"])
    uploaded = httpx.get(run["payloadPresignedUrl"], timeout=60)
    assert uploaded.headers["content-type"] == SUPERJSON
    payload = {"blob": pattern(2 * MB), "n": 1}
    assert (
        uploaded.content
        == json.dumps({"json": payload}, separators=(",", ":")).encode()
    )
    stored = live.query(
        "SELECT payload_type, payload_size FROM runs_run WHERE id = %s", (seen["id"],)
    )
    assert stored == [("application/store", len(uploaded.content))]


def test_a_20_mb_output_is_downloaded_by_the_sdk(node):
    seen = node.run("large_payload.mjs", SCENARIO="big-output", OUTPUT_SIZE=20_000_000)

    assert seen["status"] == "COMPLETED"
    assert seen["outputLength"] == 20_000_000
    assert seen["outputSha256"] == seen["expectedSha256"]


def test_a_payload_over_10_mb_is_refused_and_leaves_nothing(node, live):
    runs_before, objects_before = live.run_count(), live.object_keys()

    error = node.run("large_payload.mjs", SCENARIO="too-large")["error"]

    assert error["status"] == 413
    if live.kind == "local":
        # The local store refuses the upload itself; S3 takes any size.
        assert error["message"] == f"An upload may be at most {10 * MB} bytes"
    else:
        packet_size = len('{"json":{"blob":""}}') + 10 * MB
        assert (
            error["message"]
            == f"Payload is too large: {packet_size} bytes, the limit is {10 * MB}"
        )
    assert live.run_count() == runs_before
    assert live.object_keys() == objects_before


def test_a_batch_over_10_mb_is_refused_and_its_uploads_are_deleted(node, live):
    runs_before, objects_before = live.run_count(), live.object_keys()

    error = node.run("large_payload.mjs", SCENARIO="batch-too-large")["error"]

    # The SDK wraps the server's 413 on the item stream; the total counts the uploads.
    item = {"json": {"blob": pattern(int(1.8 * MB)), "i": 0}}
    total = 6 * len(json.dumps(item, separators=(",", ":")))
    assert error["class"] == "BatchTriggerError"
    assert error["message"].endswith(
        f"Batch payloads add up to {total} bytes, the limit is {10 * MB}"
    )
    assert live.run_count() == runs_before
    assert live.object_keys() == objects_before
