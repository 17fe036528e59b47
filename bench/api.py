"""Talking to the Triggerkit web server the way a backend does: HTTP with a secret key."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

REQUEST_TIMEOUT_SECONDS = 120


class ApiError(RuntimeError):
    """The API answered with an error the bench did not expect."""


class Api:
    def __init__(self, base_url: str, secret_key: str) -> None:
        self.client = httpx.Client(
            base_url=base_url,
            headers={
                "Authorization": f"Bearer {secret_key}",
                "x-trigger-api-version": "2025-07-16",
            },
            timeout=REQUEST_TIMEOUT_SECONDS,
        )

    def close(self) -> None:
        self.client.close()

    def trigger(self, task: str, payload: Any, options: dict | None = None) -> str:
        body = {"payload": payload, "options": options or {}}
        response = self.client.post(f"/api/v1/tasks/{task}/trigger", json=body)
        return checked(response)["id"]

    def trigger_raw(self, task: str, body: bytes) -> str:
        response = self.client.post(
            f"/api/v1/tasks/{task}/trigger",
            content=body,
            headers={"Content-Type": "application/json"},
        )
        return checked(response)["id"]

    def batch(self, task: str, payloads: list[Any], options: dict | None = None) -> str:
        """Trigger one run per payload with the two-phase batch API; return the batch id."""
        created = checked(
            self.client.post(
                "/api/v3/batches",
                json={"runCount": len(payloads), "taskIdentifiers": [task]},
            )
        )
        lines = "\n".join(
            json.dumps(
                {
                    "index": index,
                    "task": task,
                    "payload": payload,
                    "options": options or {},
                }
            )
            for index, payload in enumerate(payloads)
        )
        sealed = checked(
            self.client.post(
                f"/api/v3/batches/{created['id']}/items",
                content=lines.encode(),
                headers={"Content-Type": "application/x-ndjson"},
            )
        )
        if not sealed.get("sealed"):
            raise ApiError(f"batch {created['id']} was not sealed: {sealed}")
        return created["id"]

    def timed_get(
        self, path: str, params: dict | None = None, **kwargs
    ) -> tuple[float, httpx.Response]:
        started = time.perf_counter()
        response = self.client.get(path, params=params, **kwargs)
        return time.perf_counter() - started, response


def checked(response: httpx.Response) -> dict:
    if response.status_code >= 300:
        raise ApiError(
            f"{response.request.method} {response.request.url.path}: "
            f"{response.status_code} {response.text[:300]}"
        )
    return response.json()
