"""Presigned URLs of the local object store: they expire, and cannot be bent.

A presigned URL needs no API key, so its signature and its expiry are all
that keep a stored payload private.
"""

from __future__ import annotations

import time
from unittest import mock
from urllib.parse import urlsplit

import pytest

storage = pytest.importorskip(
    "runs.storage", reason="the object store is not there yet"
)

PAYLOAD_BYTES = 4096


@pytest.fixture
def stored_run(api, settings, tmp_path):
    """A run whose payload went to the object store, and its presigned download URL."""
    settings.TRIGGERKIT_OBJECTS_DIR = tmp_path / "objects"
    settings.TRIGGERKIT_S3_BUCKET = ""
    settings.TRIGGERKIT_OFFLOAD_THRESHOLD_BYTES = 1024
    marker = "private-" + "p" * PAYLOAD_BYTES
    run_id = api.trigger("echo", {"secret": marker}).json()["id"]
    response = api.get(f"/api/v1/runs/{run_id}/packets/payload")
    assert response.status_code == 200, response.content
    url = urlsplit(response.json()["presignedUrl"])
    return run_id, url.path, marker


def test_a_fresh_presigned_url_serves_the_payload(client, stored_run):
    _, path, marker = stored_run

    response = client.get(path)

    assert response.status_code == 200
    assert marker in b"".join(response.streaming_content).decode()


def test_an_expired_presigned_url_is_refused(client, stored_run, settings):
    _, path, marker = stored_run
    later = time.time() + settings.TRIGGERKIT_PRESIGNED_URL_SECONDS + 1

    with mock.patch.object(storage.time, "time", return_value=later):
        response = client.get(path)

    assert response.status_code == 403
    assert "expired" in response.json()["error"]
    assert marker not in response.content.decode()


@pytest.mark.parametrize(
    "bend", ["flip-a-character", "drop-the-signature", "another-salt"]
)
def test_a_tampered_presigned_url_is_refused(client, stored_run, bend):
    _, path, marker = stored_run
    prefix, token = path.rsplit("/", 1)
    if bend == "flip-a-character":
        token = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    elif bend == "drop-the-signature":
        token = token.rsplit(":", 1)[0]
    else:
        from django.core import signing

        token = signing.dumps(
            signing.loads(token, salt=storage.URL_SALT), salt="another"
        )

    response = client.get(f"{prefix}/{token}")

    assert response.status_code == 403
    assert marker not in response.content.decode()


def test_a_download_url_does_not_allow_an_upload(client, stored_run):
    _, path, _ = stored_run

    response = client.put(path, data=b"overwritten", content_type="application/json")

    assert response.status_code == 403


def test_another_environment_gets_no_presigned_url(api, project, stored_run):
    run_id, _, _ = stored_run

    response = api.get(f"/api/v1/runs/{run_id}/packets/payload", key=project.staging)

    assert response.status_code == 404
