"""Every API request needs an active secret key, and sees only its environment."""

import pytest
from django.utils import timezone

from apikeys.models import ApiKey
from runs.models import Run


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(None, id="missing"),
        pytest.param("Bearer", id="empty"),
        pytest.param("Bearer not-a-key", id="malformed"),
        pytest.param("Bearer tr_dev_AAAAAAAAAAAAAAAAAAAAAAAA", id="unknown"),
    ],
)
def test_it_rejects_requests_without_a_valid_key(client, project, header):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = client.post(
        "/api/v1/tasks/hello-world/trigger", data="{}", content_type="application/json", **extra
    )

    assert response.status_code == 401
    assert isinstance(response.json()["error"], str)
    assert not Run.objects.exists()


def test_it_rejects_a_revoked_key(api, project):
    ApiKey.objects.update(revoked_at=timezone.now())

    response = api.trigger("hello-world", {"name": "Ada"})

    assert response.status_code == 401
    assert response.json() == {"error": "Invalid API Key"}
    assert not Run.objects.exists()


def test_a_key_records_when_it_was_last_used(api, project):
    api.get("/api/v1/runs")

    key = ApiKey.objects.get(environment=project.environments["DEVELOPMENT"])
    assert key.last_used_at is not None


def test_a_run_of_another_environment_is_not_found(api, project):
    run_id = api.trigger("hello-world", {"name": "Ada"}).json()["id"]

    response = api.get(f"/api/v3/runs/{run_id}", key=project.staging)

    assert response.status_code == 404
    assert response.json() == {"error": "Run not found"}
    assert response["x-should-retry"] == "false"


def test_another_environment_cannot_cancel_a_run(api, project):
    run_id = api.trigger("hello-world", {"name": "Ada"}).json()["id"]

    response = api.post(f"/api/v2/runs/{run_id}/cancel", key=project.prod)

    assert response.status_code == 404
    assert Run.objects.get(pk=run_id).status == "QUEUED"


def test_keys_are_stored_only_as_a_hash(project):
    for key in ApiKey.objects.all():
        assert project.dev not in (key.key_hash, key.prefix, key.last_four, key.name)
        assert len(key.key_hash) == 64


def test_an_unknown_api_path_answers_json(api):
    response = api.get("/api/v9/nothing-here")

    assert response.status_code == 404
    assert response.json() == {"error": "Not found"}
