"""Payloads in the object store through the API, in-process, on the local folder and on S3."""

import json
import time

import pytest
from django.conf import settings as django_settings

from runs import storage
from runs.models import Run

MB = 1024 * 1024
SUPERJSON = "application/super+json"
STORE = "application/store"


def json_string_of(size: int) -> str:
    """A string whose JSON encoding is exactly `size` bytes."""
    return "x" * (size - 2)


def superjson_of(size: int) -> bytes:
    """A SuperJSON packet of exactly `size` bytes, as the TypeScript SDK sends one."""
    return json.dumps(
        {"json": {"text": "y" * (size - 20)}}, separators=(",", ":")
    ).encode()


def test_a_small_payload_stays_in_the_database(api, object_store):
    run_id = api.trigger("echo", {"name": "Ada"}).json()["id"]

    run = Run.objects.get(pk=run_id)
    assert (run.payload, run.payload_type, run.payload_key) == (
        '{"name":"Ada"}',
        "application/json",
        None,
    )
    assert api.get(f"/api/v3/runs/{run_id}").json()["payload"] == {"name": "Ada"}
    assert object_store.keys() == set()


def test_a_payload_over_the_threshold_is_stored_and_read_back_through_a_presigned_url(
    api, object_store
):
    payload = json_string_of(600 * 1024)

    run_id = api.trigger("echo", payload).json()["id"]

    run = Run.objects.get(pk=run_id)
    assert run.payload_type == STORE
    assert run.payload_size == 600 * 1024
    assert object_store.keys() == {run.payload_key}
    assert run.payload_key.startswith("packets/packet_") and run.payload_key.endswith(
        "/payload.json"
    )
    retrieved = api.get(f"/api/v3/runs/{run_id}").json()
    assert "payload" not in retrieved
    fetched = api.fetch(retrieved["payloadPresignedUrl"])
    assert fetched.status_code == 200
    assert fetched.content_type == "application/json"
    assert fetched.content == json.dumps(payload).encode()


def test_a_payload_at_the_threshold_stays_inline(api, object_store):
    run_id = api.trigger(
        "echo", json_string_of(django_settings.TRIGGERKIT_OFFLOAD_THRESHOLD_BYTES)
    ).json()["id"]

    assert Run.objects.get(pk=run_id).payload_key is None
    assert object_store.keys() == set()


def test_an_sdk_upload_is_attached_to_the_run_that_names_it(api, object_store):
    packet = superjson_of(200 * 1024)
    created = api.put("/api/v2/packets/trigger%2Fpacket_abc%2Fpayload.json")
    assert created.status_code == 200
    body = created.json()
    assert set(body) == {"presignedUrl", "storagePath"}
    assert api.fetch(body["presignedUrl"], "PUT", packet, SUPERJSON).status_code == 200

    response = api.trigger(
        "echo", body["storagePath"], payloadType=STORE, payloadSize=len(packet)
    )

    assert response.status_code == 200, response.json()
    run = Run.objects.get(pk=response.json()["id"])
    assert (run.payload_key, run.payload_size) == (body["storagePath"], len(packet))
    assert json.loads(run.payload)["type"] == SUPERJSON
    fetched = api.fetch(api.get(f"/api/v3/runs/{run.pk}").json()["payloadPresignedUrl"])
    assert (fetched.content, fetched.content_type) == (packet, SUPERJSON)


def test_a_store_trigger_without_an_upload_is_refused_and_creates_nothing(
    api, object_store
):
    storage_path = api.put(
        "/api/v2/packets/trigger%2Fpacket_abc%2Fpayload.json"
    ).json()["storagePath"]

    response = api.trigger("echo", storage_path, payloadType=STORE)

    assert response.status_code == 400
    assert response.json() == {"error": f"Nothing was uploaded to {storage_path}"}
    assert Run.objects.count() == 0


@pytest.mark.parametrize(
    "payload, message",
    [
        ("trigger/packet_abc/payload.json", "Unknown storagePath"),
        (
            "packets/packet_0000000000000000000000000a/../../etc/passwd",
            "Unknown storagePath",
        ),
        ("", "must be the storagePath of an upload"),
        ({"key": "packets/x"}, "must be the storagePath of an upload"),
    ],
    ids=["sdk-name", "traversal", "empty", "object"],
)
def test_a_store_trigger_naming_no_upload_of_ours_is_a_400(
    api, object_store, payload, message
):
    response = api.trigger("echo", payload, payloadType=STORE)

    assert response.status_code == 400
    assert message in response.json()["error"]
    assert Run.objects.count() == 0


def test_an_upload_of_a_type_the_worker_cannot_read_is_refused(api, object_store):
    storage_path = api.upload(b"\x00\x01", "application/octet-stream")

    response = api.trigger("echo", storage_path, payloadType=STORE)

    assert response.status_code == 400
    assert "application/octet-stream" in response.json()["error"]


# Limits: the answer, and nothing left behind ---------------------------------------


def test_a_payload_over_10_mb_is_413_and_leaves_no_run_and_no_object(api, object_store):
    response = api.trigger("echo", json_string_of(10 * MB + 1))

    assert response.status_code == 413
    assert response.json() == {
        "error": f"Payload is too large: {10 * MB + 1} bytes, the limit is {10 * MB}"
    }
    assert Run.objects.count() == 0
    assert object_store.keys() == set()


def test_an_uploaded_payload_over_10_mb_is_413_and_its_object_is_deleted(
    api, object_store
):
    # S3 takes an upload of any size; the local store refuses it at once (below).
    storage_path = api.put("/api/v2/packets/trigger%2Fp%2Fpayload.json").json()[
        "storagePath"
    ]
    storage.store().put(storage_path, superjson_of(10 * MB + 1), SUPERJSON)

    response = api.trigger("echo", storage_path, payloadType=STORE)

    assert response.status_code == 413
    assert "the limit is 10485760" in response.json()["error"]
    assert Run.objects.count() == 0
    assert object_store.keys() == set()


def test_a_batch_whose_payloads_add_up_to_over_10_mb_is_413_and_leaves_nothing(
    api, object_store
):
    batch_id = api.post(
        "/api/v3/batches", {"runCount": 6, "taskIdentifiers": ["echo"]}
    ).json()["id"]
    lines = [
        {"index": i, "task": "echo", "payload": json_string_of(int(1.8 * MB))}
        for i in range(6)
    ]

    response = api.post(
        f"/api/v3/batches/{batch_id}/items",
        raw="\n".join(json.dumps(line) for line in lines),
        content_type="application/x-ndjson",
    )

    assert response.status_code == 413
    assert response.json()["error"] == (
        f"Batch payloads add up to {6 * int(1.8 * MB)} bytes, the limit is {10 * MB}"
    )
    assert Run.objects.count() == 0
    assert object_store.keys() == set()


def test_a_batch_of_uploads_over_10_mb_is_413_and_its_uploads_are_deleted(
    api, object_store
):
    batch_id = api.post(
        "/api/v3/batches", {"runCount": 6, "taskIdentifiers": ["echo"]}
    ).json()["id"]
    paths = [api.upload(superjson_of(int(1.8 * MB))) for _ in range(6)]
    lines = [
        {"index": i, "task": "echo", "payload": path, "options": {"payloadType": STORE}}
        for i, path in enumerate(paths)
    ]

    response = api.post(
        f"/api/v3/batches/{batch_id}/items",
        raw="\n".join(json.dumps(line) for line in lines),
        content_type="application/x-ndjson",
    )

    assert response.status_code == 413
    assert Run.objects.count() == 0
    assert object_store.keys() == set()


def test_batch_items_are_stored_one_by_one_and_a_resend_stores_nothing_more(
    api, object_store
):
    batch_id = api.post(
        "/api/v3/batches", {"runCount": 3, "taskIdentifiers": ["echo"]}
    ).json()["id"]
    payloads = [json_string_of(600 * 1024), {"small": True}, json_string_of(700 * 1024)]
    body = "\n".join(
        json.dumps({"index": i, "task": "echo", "payload": p})
        for i, p in enumerate(payloads)
    )

    first = api.post(
        f"/api/v3/batches/{batch_id}/items",
        raw=body,
        content_type="application/x-ndjson",
    )
    keys = object_store.keys()
    again = api.post(
        f"/api/v3/batches/{batch_id}/items",
        raw=body,
        content_type="application/x-ndjson",
    )

    assert first.json()["sealed"] and again.json()["sealed"]
    runs = list(Run.objects.filter(batch_id=batch_id).order_by("batch_index"))
    assert [run.payload_size for run in runs] == [600 * 1024, None, 700 * 1024]
    assert keys == {runs[0].payload_key, runs[2].payload_key}
    assert object_store.keys() == keys


def test_the_legacy_batch_endpoint_stores_large_items_and_refuses_large_batches(
    api, object_store
):
    small = api.post(
        "/api/v1/tasks/batch",
        {"items": [{"task": "echo", "payload": json_string_of(MB)}]},
    )
    large = api.post(
        "/api/v1/tasks/batch",
        {
            "items": [
                {"task": "echo", "payload": json_string_of(int(3.6 * MB))}
                for _ in range(3)
            ]
        },
    )

    assert small.status_code == 202
    run = Run.objects.get(pk=small.json()["runs"][0]["id"])
    assert object_store.keys() == {run.payload_key}
    assert large.status_code == 413
    assert Run.objects.count() == 1


# Download endpoints ------------------------------------------------------------------


def test_the_run_packet_endpoint_gives_a_url_for_stored_values_only(
    api, project, object_store
):
    stored = api.trigger("echo", json_string_of(600 * 1024)).json()["id"]
    inline = api.trigger("echo", {"small": True}).json()["id"]

    url = api.get(f"/api/v1/runs/{stored}/packets/payload").json()["presignedUrl"]
    assert api.fetch(url).content == json.dumps(json_string_of(600 * 1024)).encode()
    missing = api.get(f"/api/v1/runs/{inline}/packets/payload")
    assert missing.status_code == 404
    assert missing.json() == {"error": "This run's payload is not in the object store"}
    assert api.get(f"/api/v1/runs/{stored}/packets/output").status_code == 404
    assert (
        api.get(f"/api/v1/runs/{stored}/packets/payload", key=project.prod).status_code
        == 404
    )
    assert api.get(f"/api/v1/runs/{stored}/packets/secrets").status_code == 400


def test_the_packet_endpoint_serves_keys_of_this_environment_only(
    api, project, object_store
):
    run_id = api.trigger("echo", json_string_of(600 * 1024)).json()["id"]
    key = Run.objects.get(pk=run_id).payload_key
    unused = api.upload(superjson_of(1000))

    assert (
        api.fetch(api.get(f"/api/v1/packets/{key}").json()["presignedUrl"]).status_code
        == 200
    )
    assert api.get(f"/api/v1/packets/{key}", key=project.prod).status_code == 404
    assert api.get(f"/api/v1/packets/{unused}").status_code == 404


# URLs: expiry and scope -----------------------------------------------------------------


@pytest.mark.parametrize("object_store", ["local"], indirect=True)
def test_a_presigned_url_stops_working_after_its_expiry(api, object_store, settings):
    settings.TRIGGERKIT_PRESIGNED_URL_SECONDS = 1
    run_id = api.trigger("echo", json_string_of(600 * 1024)).json()["id"]
    url = api.get(f"/api/v3/runs/{run_id}").json()["payloadPresignedUrl"]

    assert api.fetch(url).status_code == 200
    time.sleep(2.1)
    expired = api.fetch(url)

    assert expired.status_code == 403
    assert json.loads(expired.content) == {"error": "This URL has expired"}


@pytest.mark.parametrize("object_store", ["s3"], indirect=True)
def test_s3_urls_carry_their_expiry(api, object_store, settings):
    # moto does not refuse expired URLs (AWS and MinIO do): check what S3 is told.
    settings.TRIGGERKIT_PRESIGNED_URL_SECONDS = 7

    upload = api.put("/api/v2/packets/trigger%2Fp%2Fpayload.json").json()[
        "presignedUrl"
    ]
    run_id = api.trigger("echo", json_string_of(600 * 1024)).json()["id"]
    download = api.get(f"/api/v3/runs/{run_id}").json()["payloadPresignedUrl"]

    for url in (upload, download):
        assert "X-Amz-Expires=7&" in url and "X-Amz-Signature=" in url


@pytest.mark.parametrize("object_store", ["local"], indirect=True)
def test_a_local_url_grants_one_method_and_cannot_be_altered(api, object_store):
    upload = api.put("/api/v2/packets/trigger%2Fp%2Fpayload.json").json()[
        "presignedUrl"
    ]

    assert api.fetch(upload).status_code == 403
    assert api.fetch(upload[:-3] + "abc", "PUT", b"{}", SUPERJSON).status_code == 403
    assert object_store.keys() == set()


@pytest.mark.parametrize("object_store", ["local"], indirect=True)
def test_a_local_upload_over_the_payload_limit_is_refused(api, object_store):
    upload = api.put("/api/v2/packets/trigger%2Fp%2Fpayload.json").json()[
        "presignedUrl"
    ]

    response = api.fetch(upload, "PUT", b"x" * (10 * MB + 1), SUPERJSON)

    assert response.status_code == 413
    assert object_store.keys() == set()


# The orphan sweep ----------------------------------------------------------------------


def test_uploads_no_run_uses_are_swept_once_they_can_no_longer_be_attached(
    api, object_store
):
    orphan = api.upload(superjson_of(1000))
    used = api.upload(superjson_of(1000))
    api.trigger("echo", used, payloadType=STORE)
    offloaded = Run.objects.get(
        pk=api.trigger("echo", json_string_of(600 * 1024)).json()["id"]
    )
    later = (
        time.time()
        + storage.attach_window_seconds()
        + django_settings.TRIGGERKIT_ORPHAN_GRACE_SECONDS / 2
    )

    assert storage.sweep_orphans() == 0
    assert object_store.keys() == {orphan, used, offloaded.payload_key}
    assert storage.sweep_orphans(now=later + 1) == 1
    assert object_store.keys() == {used, offloaded.payload_key}


def test_an_upload_older_than_its_attach_window_is_refused(api, object_store, settings):
    storage_path = api.upload(superjson_of(1000))
    settings.TRIGGERKIT_PRESIGNED_URL_SECONDS = 0
    settings.TRIGGERKIT_ORPHAN_GRACE_SECONDS = 0

    response = api.trigger("echo", storage_path, payloadType=STORE)

    assert response.status_code == 400
    assert "too old" in response.json()["error"]
