from unittest import mock

import pytest


@pytest.mark.django_db
def test_healthz_answers_while_the_process_is_up(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_checks_the_database_and_the_broker(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


@pytest.mark.django_db
def test_readyz_is_503_with_a_retry_hint_when_the_broker_is_down(client, settings):
    from kombu import Connection

    closed_port = Connection("redis://127.0.0.1:1/0")
    with mock.patch("runs.health.celery_app.connection_for_write", return_value=closed_port):
        response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["broker"] == "unreachable"
    assert response["Retry-After"] == "5"


@pytest.mark.django_db
def test_the_openapi_document_lists_our_endpoints(client):
    document = client.get("/api/openapi.json").json()

    paths = set(document["paths"])
    assert "/api/v1/tasks/{task_id}/trigger" in paths
    assert "/api/v3/runs/{run_id}" in paths
    assert "/api/v3/batches/{batch_id}/items" in paths
    assert client.get("/api/docs").status_code == 200
