"""POST /api/v1/tasks/{id}/trigger: what it stores, and what it refuses."""

import json

import pytest

from runs.models import Run


def test_a_trigger_queues_a_run_with_its_payload_and_returns_a_token(api):
    response = api.trigger("hello-world", {"name": "Ada"})

    assert response.status_code == 200
    body = response.json()
    assert body["isCached"] is False
    assert body["id"].startswith("run_")
    assert response["x-trigger-jwt"].count(".") == 2
    run = Run.objects.get(pk=body["id"])
    assert run.status == "QUEUED"
    assert json.loads(run.payload) == {"name": "Ada"}
    assert run.queue.name == "task/hello-world"


def test_a_superjson_payload_reads_back_as_plain_json(api):
    payload = '{"json":{"when":"2030-01-01T00:00:00.000Z","n":"1"},"meta":{"values":{"when":["Date"],"n":["bigint"]}}}'
    run_id = api.post(
        "/api/v1/tasks/echo/trigger",
        {"payload": payload, "options": {"payloadType": "application/super+json"}},
    ).json()["id"]

    run = api.get(f"/api/v3/runs/{run_id}").json()

    assert run["payload"] == {"when": "2030-01-01T00:00:00.000Z", "n": "1"}


def test_an_unknown_task_waits_for_a_worker_that_knows_it(api):
    run_id = api.trigger("not-deployed-yet", {}).json()["id"]

    run = api.get(f"/api/v3/runs/{run_id}").json()

    assert run["status"] == "PENDING_VERSION"
    assert run["isQueued"] is True


def test_a_retried_request_returns_the_first_run(api):
    headers = {"HTTP_X_TRIGGER_REQUEST_IDEMPOTENCY_KEY": "6f2c5b2e-0d8c-4a43-9d2e-3f1f4c9b7a10"}
    body = {"payload": {"name": "Ada"}}
    first = api.post("/api/v1/tasks/hello-world/trigger", body, **headers).json()
    second = api.post("/api/v1/tasks/hello-world/trigger", body, **headers).json()

    assert first == second
    assert Run.objects.count() == 1


@pytest.mark.parametrize(
    ("raw", "status", "message"),
    [
        pytest.param("{not json", 400, "Invalid JSON", id="bad-json"),
        pytest.param("", 400, "Request body is empty", id="empty-body"),
        pytest.param(json.dumps({"options": {"tags": ["x" * 129]}}), 400, "options.tags", id="long-tag"),
        pytest.param(json.dumps({"options": {"maxAttempts": 0}}), 400, "maxAttempts", id="zero-attempts"),
        pytest.param(json.dumps({"options": {"ttl": "soon"}}), 400, "Invalid ttl", id="bad-ttl"),
        pytest.param(
            json.dumps({"options": {"tags": [f"t{i}" for i in range(11)]}}),
            422,
            "Runs can only have 10 tags, you're trying to set 11.",
            id="eleven-tags",
        ),
        pytest.param(
            json.dumps({"options": {"metadata": {"blob": "x" * (257 * 1024)}}}),
            413,
            "Metadata is too large",
            id="big-metadata",
        ),
        pytest.param(
            json.dumps({"payload": "{nope", "options": {"payloadType": "application/super+json"}}),
            400,
            "not valid",
            id="bad-superjson",
        ),
    ],
)
def test_bad_input_is_refused_and_creates_nothing(api, raw, status, message):
    response = api.post("/api/v1/tasks/hello-world/trigger", raw=raw)

    assert response.status_code == status, response.content
    assert message in response.json()["error"]
    assert not Run.objects.exists()


def test_a_payload_over_the_limit_is_413(api, settings):
    settings.TRIGGERKIT_PAYLOAD_MAX_BYTES = 1000

    response = api.trigger("hello-world", {"blob": "x" * 2000})

    assert response.status_code == 413
    assert "Payload is too large" in response.json()["error"]
    assert not Run.objects.exists()


def test_tags_are_trimmed_deduplicated_and_sorted(api):
    run_id = api.trigger("hello-world", {}, tags=["b", " a ", "b", "  "]).json()["id"]

    assert api.get(f"/api/v3/runs/{run_id}").json()["tags"] == ["a", "b"]


def test_a_single_string_tag_is_accepted(api):
    run_id = api.trigger("hello-world", {}, tags="solo").json()["id"]

    assert api.get(f"/api/v3/runs/{run_id}").json()["tags"] == ["solo"]


def test_a_delay_makes_the_run_delayed(api):
    run_id = api.trigger("hello-world", {}, delay="1h30m").json()["id"]

    run = api.get(f"/api/v3/runs/{run_id}").json()

    assert run["status"] == "DELAYED"
    assert "delayedUntil" in run


def test_a_past_date_means_no_delay(api):
    run_id = api.trigger("hello-world", {}, delay="2001-01-01T00:00:00Z").json()["id"]

    assert api.get(f"/api/v3/runs/{run_id}").json()["status"] == "QUEUED"


def test_development_runs_get_a_ten_minute_ttl_unless_disabled(api):
    default = api.trigger("hello-world", {}).json()["id"]
    disabled = api.trigger("hello-world", {}, ttl=0).json()["id"]

    assert api.get(f"/api/v3/runs/{default}").json()["ttl"] == "10m"
    assert "ttl" not in api.get(f"/api/v3/runs/{disabled}").json()


def test_the_same_idempotency_key_returns_the_same_run(api):
    first = api.trigger("hello-world", {}, idempotencyKey="k-1").json()
    second = api.trigger("hello-world", {}, idempotencyKey="k-1").json()

    assert second == {"id": first["id"], "isCached": True}
    assert Run.objects.count() == 1


def test_a_failed_run_releases_its_idempotency_key(api):
    first = api.trigger("hello-world", {}, idempotencyKey="k-2").json()["id"]
    Run.objects.filter(pk=first).update(status="FAILED")

    second = api.trigger("hello-world", {}, idempotencyKey="k-2").json()

    assert second["id"] != first
    assert second["isCached"] is False
