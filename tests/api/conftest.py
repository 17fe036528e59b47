import json

import pytest


class ApiClient:
    """The Django test client with a secret key and JSON helpers."""

    def __init__(self, client, key: str) -> None:
        self.client = client
        self.key = key

    def headers(self, key: str | None = None) -> dict:
        return {
            "HTTP_AUTHORIZATION": f"Bearer {key or self.key}",
            "HTTP_X_TRIGGER_API_VERSION": "2025-07-16",
        }

    def post(self, path: str, body=None, *, raw: str | bytes | None = None, key=None, **extra):
        data = raw if raw is not None else json.dumps(body if body is not None else {})
        return self.client.post(
            path, data=data, content_type="application/json", **self.headers(key), **extra
        )

    def get(self, path: str, params=None, *, key=None):
        return self.client.get(path, params or {}, **self.headers(key))

    def trigger(self, task_id: str, payload=None, **options):
        body = {"payload": payload, "options": options} if options else {"payload": payload}
        return self.post(f"/api/v1/tasks/{task_id}/trigger", body)


@pytest.fixture
def api(client, project):
    return ApiClient(client, project.dev)
