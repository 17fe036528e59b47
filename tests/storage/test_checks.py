"""The object store is checked at start: configuration in settings, reachability by check."""

import os
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from runs import storage
from tests.live import ROOT


def test_a_reachable_store_passes_the_check(object_store):
    assert storage.check_object_store() == []


def test_a_missing_bucket_is_named_by_the_check(moto, settings):
    for name, value in moto.settings().items():
        setattr(settings, name, value)
    settings.TRIGGERKIT_S3_BUCKET = "no-such-bucket"

    errors = storage.check_object_store()

    assert [error.id for error in errors] == ["triggerkit.E001"]
    assert errors[0].msg == (
        f"The bucket 'no-such-bucket' at {moto.endpoint} does not exist: "
        "create it or fix TRIGGERKIT_S3_BUCKET"
    )
    with pytest.raises(SystemCheckError, match="no-such-bucket"):
        call_command("check", tags=["storage"])


def test_missing_credentials_are_named_by_the_check(moto, settings, monkeypatch):
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    settings.TRIGGERKIT_S3_BUCKET = moto.bucket
    settings.TRIGGERKIT_S3_ENDPOINT_URL = moto.endpoint
    settings.TRIGGERKIT_S3_ACCESS_KEY_ID = ""
    settings.TRIGGERKIT_S3_SECRET_ACCESS_KEY = ""

    errors = storage.check_object_store()

    assert len(errors) == 1
    assert errors[0].msg.startswith(f"No credentials for bucket '{moto.bucket}'")
    assert "AWS_ACCESS_KEY_ID" in errors[0].msg


def test_an_unwritable_folder_is_named_by_the_check(settings, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    settings.TRIGGERKIT_OBJECTS_DIR = blocker / "objects"

    errors = storage.check_object_store()

    assert len(errors) == 1
    assert errors[0].msg.startswith(
        f"TRIGGERKIT_OBJECTS_DIR {blocker / 'objects'} is not writable"
    )


@pytest.mark.parametrize(
    "variables, message",
    [
        (
            {"TRIGGERKIT_S3_ENDPOINT_URL": "http://127.0.0.1:9000"},
            "TRIGGERKIT_S3_ENDPOINT_URL is set but TRIGGERKIT_S3_BUCKET is not",
        ),
        (
            {"TRIGGERKIT_S3_BUCKET": "b", "TRIGGERKIT_S3_ACCESS_KEY_ID": "id"},
            "Set both TRIGGERKIT_S3_ACCESS_KEY_ID and TRIGGERKIT_S3_SECRET_ACCESS_KEY",
        ),
    ],
    ids=["endpoint-without-bucket", "half-the-credentials"],
)
def test_incomplete_s3_settings_stop_the_start_with_what_is_missing(variables, message):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", **variables}
    started = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert started.returncode != 0
    assert message in started.stderr
