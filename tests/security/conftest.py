import json

import pytest

from tests.conftest import create_test_project


class Api:
    """The Django test client speaking to the JSON API with one secret key."""

    def __init__(self, client, key: str) -> None:
        self.client = client
        self.key = key

    def headers(self, key: str | None) -> dict:
        return {
            "HTTP_AUTHORIZATION": f"Bearer {key or self.key}",
            "HTTP_X_TRIGGER_API_VERSION": "2025-07-16",
        }

    def post(
        self,
        path: str,
        body=None,
        *,
        key: str | None = None,
        content_type: str = "application/json",
        raw: str | bytes | None = None,
    ):
        data = raw if raw is not None else json.dumps(body if body is not None else {})
        return self.client.post(
            path, data=data, content_type=content_type, **self.headers(key)
        )

    def get(self, path: str, params=None, *, key: str | None = None):
        return self.client.get(path, params or {}, **self.headers(key))

    def trigger(self, task_id: str, payload=None, *, key: str | None = None, **options):
        body = (
            {"payload": payload, "options": options}
            if options
            else {"payload": payload}
        )
        return self.post(f"/api/v1/tasks/{task_id}/trigger", body, key=key)


@pytest.fixture
def api(client, project):
    return Api(client, project.dev)


@pytest.fixture
def stranger_project(db):
    """Another project, with keys of its own."""
    return create_test_project()
