"""Fixtures of the storage tests: the object store in-process and on live platforms."""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import pytest

from runs import storage
from tests.storage.live import Moto, moto_server, shared, shared_live_store


@pytest.fixture(scope="session")
def moto() -> Moto:
    with shared("moto", moto_server) as server:
        yield server


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
    """Each live test runs on both platforms."""
    return request.getfixturevalue(f"{request.param}_live")


@dataclass
class InProcessStore:
    """The store the test process uses, and a way to see every object in it."""

    kind: str
    moto: Moto | None
    folder: object

    def keys(self) -> set[str]:
        if self.moto is not None:
            return self.moto.keys()
        return {
            f"packets/{path.parent.name}/{path.name}"
            for path in self.folder.glob("packets/*/*")
            if not path.name.endswith(".meta") and not path.name.startswith(".")
        }


@pytest.fixture(params=["local", "s3"])
def object_store(request, settings, tmp_path) -> InProcessStore:
    """The test process's store: a temporary folder, or the moto server."""
    settings.SITE_URL = "http://testserver"
    settings.TRIGGERKIT_OBJECTS_DIR = tmp_path / "objects"
    moto = None
    if request.param == "s3":
        moto = request.getfixturevalue("moto").new_bucket()
        for name, value in moto.settings().items():
            setattr(settings, name, value)
    storage.reset_sweep()
    return InProcessStore(request.param, moto, tmp_path / "objects")


class Api:
    """The Django test client with a secret key; URLs of the local store go through it too."""

    def __init__(self, client, key: str) -> None:
        self.client = client
        self.key = key

    def headers(self, key: str | None = None) -> dict:
        return {
            "HTTP_AUTHORIZATION": f"Bearer {key or self.key}",
            "HTTP_X_TRIGGER_API_VERSION": "2025-07-16",
        }

    def post(
        self,
        path: str,
        body=None,
        *,
        key=None,
        content_type="application/json",
        raw=None,
    ):
        data = raw if raw is not None else json.dumps(body if body is not None else {})
        return self.client.post(
            path, data=data, content_type=content_type, **self.headers(key)
        )

    def put(self, path: str, *, key=None):
        return self.client.put(
            path, data=b"", content_type="application/json", **self.headers(key)
        )

    def get(self, path: str, *, key=None):
        return self.client.get(path, **self.headers(key))

    def trigger(self, task_id: str, payload=None, *, key=None, **options):
        body = {"payload": payload, "options": options}
        return self.post(f"/api/v1/tasks/{task_id}/trigger", body, key=key)

    def upload(self, data: bytes, content_type: str = "application/super+json") -> str:
        """Upload a payload the way the TypeScript SDK does; return its storagePath."""
        created = self.put("/api/v2/packets/trigger%2Fpacket_abc%2Fpayload.json").json()
        response = self.fetch(created["presignedUrl"], "PUT", data, content_type)
        assert response.status_code == 200, response.content
        return created["storagePath"]

    def fetch(
        self, url: str, method: str = "GET", data: bytes = b"", content_type: str = ""
    ):
        """Use a presigned URL without credentials: in-process for the local store."""
        parts = urlsplit(url)
        if parts.netloc != "testserver":
            headers = {"Content-Type": content_type} if content_type else {}
            return Fetched.of(
                httpx.request(method, url, content=data or None, headers=headers)
            )
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        if method == "PUT":
            return Fetched.of(
                self.client.put(path, data=data, content_type=content_type)
            )
        return Fetched.of(self.client.get(path))


@dataclass
class Fetched:
    status_code: int
    content: bytes
    content_type: str

    @classmethod
    def of(cls, response) -> Fetched:
        if getattr(response, "streaming", False):
            content = b"".join(response.streaming_content)
        else:
            content = response.content
        return cls(
            response.status_code, content, response.headers.get("Content-Type", "")
        )


@pytest.fixture
def api(client, project, object_store) -> Api:
    return Api(client, project.dev)
