"""A key sees only its own environment: everything else answers 404, as if absent.

Never 403: a 403 would tell a stranger that the run or batch exists.
"""

from __future__ import annotations

import json

import pytest

from runs.models import Batch, Run, Schedule
from tests.schedules.conftest import make_schedule, register_scheduled_tasks

NOT_FOUND_IDS = {
    "run": "run_00000000000000000000000000",
    "batch": "batch_0000000000000000000000000",
}


@pytest.fixture
def owned(api):
    """A queued run, a delayed run with an idempotency key, and a sealed batch of one."""
    run_id = api.trigger("echo", {"secret": "owner"}).json()["id"]
    delayed_id = api.trigger(
        "echo", {}, delay="1h", idempotencyKey="owner-key", tags=["a"]
    ).json()["id"]
    batch_id = api.post("/api/v3/batches", {"runCount": 2}).json()["id"]
    line = json.dumps({"index": 0, "task": "echo", "payload": {"i": 0}})
    api.post(
        f"/api/v3/batches/{batch_id}/items",
        raw=line,
        content_type="application/x-ndjson",
    )
    return {"run": run_id, "delayed": delayed_id, "batch": batch_id}


@pytest.fixture(params=["same-project-staging", "other-project"])
def other_key(request, project, stranger_project):
    if request.param == "same-project-staging":
        return project.staging
    return stranger_project.prod


def snapshot():
    runs = Run.objects.order_by("id").values_list(
        "id", "status", "tags", "delay_until", "idempotency_key", "attempt_count"
    )
    batches = Batch.objects.order_by("id").values_list(
        "id", "status", "run_count", "sealed_at"
    )
    return list(runs), list(batches)


def requests_on(ids):
    """Every API request that names a run, batch or key of the owner."""
    ndjson = json.dumps({"index": 1, "task": "echo", "payload": {"i": 1}})
    return [
        ("get", f"/api/v3/runs/{ids['run']}", None, None),
        ("post", f"/api/v2/runs/{ids['run']}/cancel", {}, None),
        ("post", f"/api/v1/runs/{ids['run']}/replay", {}, None),
        ("post", f"/api/v1/runs/{ids['delayed']}/reschedule", {"delay": "2h"}, None),
        ("post", f"/api/v1/runs/{ids['run']}/tags", {"tags": ["stolen"]}, None),
        ("get", f"/api/v2/batches/{ids['batch']}", None, None),
        (
            "post",
            f"/api/v3/batches/{ids['batch']}/items",
            ndjson,
            "application/x-ndjson",
        ),
    ]


def send(api, method, path, body, content_type, key):
    if method == "get":
        return api.get(path, key=key)
    if content_type:
        return api.post(path, raw=body, content_type=content_type, key=key)
    return api.post(path, body, key=key)


def test_another_environment_s_key_gets_404_on_every_run_and_batch_endpoint(
    api, owned, other_key
):
    before = snapshot()

    for method, path, body, content_type in requests_on(owned):
        response = send(api, method, path, body, content_type, other_key)

        assert response.status_code == 404, (
            path,
            response.status_code,
            response.content,
        )
        assert set(response.json()) == {"error"}
        assert response["x-should-retry"] == "false"

    assert snapshot() == before


def test_the_404_for_someone_else_s_run_is_the_404_for_no_run_at_all(
    api, owned, other_key
):
    for kind, missing in (
        ("run", NOT_FOUND_IDS["run"]),
        ("batch", NOT_FOUND_IDS["batch"]),
    ):
        path = "/api/v3/runs/{}" if kind == "run" else "/api/v2/batches/{}"

        theirs = api.get(path.format(owned[kind]), key=other_key)
        nobody_s = api.get(path.format(missing), key=other_key)

        assert (theirs.status_code, theirs.json()) == (
            nobody_s.status_code,
            nobody_s.json(),
        )


def test_another_environment_cannot_release_an_idempotency_key(api, owned, other_key):
    response = api.post(
        "/api/v1/idempotencyKeys/owner-key/reset",
        {"taskIdentifier": "echo"},
        key=other_key,
    )

    assert response.status_code == 404
    assert Run.objects.get(pk=owned["delayed"]).idempotency_key == "owner-key"


def test_another_environment_s_list_shows_none_of_the_runs(api, owned, other_key):
    everything = api.get("/api/v1/runs", {"page[size]": "100"}, key=other_key)
    by_batch = api.get("/api/v1/runs", {"filter[batch]": owned["batch"]}, key=other_key)
    by_key_cursor = api.get(
        "/api/v1/runs", {"page[after]": "run_" + "v" * 26}, key=other_key
    )

    assert (
        everything.status_code
        == by_batch.status_code
        == by_key_cursor.status_code
        == 200
    )
    assert everything.json()["data"] == []
    assert by_batch.json()["data"] == []
    assert by_key_cursor.json()["data"] == []


def test_another_environment_s_trigger_with_the_same_idempotency_key_gets_its_own_run(
    api, owned, other_key
):
    response = api.trigger("echo", {}, key=other_key, idempotencyKey="owner-key")

    assert response.status_code == 200
    assert response.json()["isCached"] is False
    assert response.json()["id"] != owned["delayed"]


def test_a_public_access_token_is_not_a_secret_key(api):
    token = api.trigger("echo", {})["x-trigger-jwt"]

    response = api.get("/api/v1/runs", key=token)

    assert response.status_code == 401
    assert set(response.json()) == {"error"}


SCHEDULE_CALLS = [
    ("GET", ""),
    ("PUT", ""),
    ("DELETE", ""),
    ("POST", "/activate"),
    ("POST", "/deactivate"),
]


def schedule_rows():
    return list(
        Schedule.objects.order_by("id").values_list(
            "id", "environment_id", "task_identifier", "cron", "active", "next_run_at"
        )
    )


def test_another_environment_s_key_gets_404_on_every_schedule_endpoint(
    client, project, stranger_project, other_key
):
    # Given a schedule of the owner's development environment, the task known everywhere
    register_scheduled_tasks(
        [*project.environments.values(), *stranger_project.environments.values()]
    )
    schedule = make_schedule(project.environments["DEVELOPMENT"], key="owner-digest")
    before = schedule_rows()
    body = json.dumps({"task": "user-digest", "cron": "0 9 * * *"})

    # When another environment calls every endpoint by its id and by its key
    for name in (schedule.id, "owner-digest"):
        for method, suffix in SCHEDULE_CALLS:
            response = client.generic(
                method,
                f"/api/v1/schedules/{name}{suffix}",
                body if method == "PUT" else "",
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {other_key}",
            )

            # Then it is told what it would be told of a schedule that does not exist
            assert response.status_code == 404, (method, name, response.content)
            assert response.json() == {"error": "Schedule not found"}

    listed = client.get("/api/v1/schedules", HTTP_AUTHORIZATION=f"Bearer {other_key}")
    assert listed.json()["data"] == []
    assert schedule_rows() == before
