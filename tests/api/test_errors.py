"""Errors nobody planned for answer {"error": …} and tell the client nothing inside."""

import logging
from unittest import mock

import pytest
from django.db import connection, transaction
from django.test import Client

from runs.api.base import UNUSABLE_VALUE_MESSAGE
from runs.models import Run
from runs.packets import PacketError
from tests.api.conftest import ApiClient

SECRET_DETAIL = "connection string postgres://admin:hunter2@db"
SUBMITTED_VALUE = "card-4111-1111-1111-1111"


@pytest.fixture
def api(project):
    return ApiClient(Client(raise_request_exception=False), project.dev)


def test_an_unexpected_exception_is_a_json_500_that_hides_its_text(api, caplog):
    with mock.patch("runs.engine.trigger_run", side_effect=RuntimeError(SECRET_DETAIL)):
        response = api.trigger("hello-world", {})

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"error": "Internal server error"}
    assert b"hunter2" not in response.content
    [record] = [r for r in caplog.records if getattr(r, "action", "") == "api_error"]
    assert record.levelno == logging.ERROR
    assert record.exc_info[0] is RuntimeError
    assert not Run.objects.exists()


def test_an_unexpected_database_error_is_a_json_500_too(api):
    from django.db import IntegrityError

    failure = IntegrityError(SECRET_DETAIL)
    with mock.patch("runs.engine.trigger_run", side_effect=failure):
        response = api.trigger("hello-world", {})

    assert response.status_code == 500
    assert response.json() == {"error": "Internal server error"}


def test_an_exception_outside_the_api_views_is_still_json_under_api(api, caplog):
    # A middleware failing before the API's own handlers can catch anything
    with mock.patch(
        "apikeys.middleware.RateLimitHeadersMiddleware.__call__",
        side_effect=RuntimeError(SECRET_DETAIL),
    ):
        response = api.get("/api/v1/runs")

    assert response.status_code == 500
    assert response.json() == {"error": "Internal server error"}
    assert b"hunter2" not in response.content
    assert any(r.exc_info and r.exc_info[0] is RuntimeError for r in caplog.records)


@pytest.mark.django_db
def test_an_exception_outside_the_api_keeps_the_html_error_page():
    client = Client(raise_request_exception=False)
    with mock.patch(
        "apikeys.middleware.RateLimitHeadersMiddleware.__call__",
        side_effect=RuntimeError(SECRET_DETAIL),
    ):
        response = client.get("/login/")

    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
    assert b"hunter2" not in response.content


def test_an_internal_value_error_gets_a_generic_400(api, caplog):
    with mock.patch("runs.engine.trigger_run", side_effect=ValueError(SECRET_DETAIL)):
        response = api.trigger("hello-world", {})

    assert response.status_code == 400
    assert response.json() == {"error": UNUSABLE_VALUE_MESSAGE}
    assert "hunter2" not in caplog.text


def test_a_payload_error_keeps_its_message_for_the_user(api):
    error = PacketError("payload is not valid application/super+json")
    with mock.patch("runs.engine.trigger_run", side_effect=error):
        response = api.trigger("hello-world", {})

    assert response.status_code == 400
    assert response.json() == {
        "error": "Invalid value: payload is not valid application/super+json"
    }


@pytest.mark.django_db(transaction=True)
def test_a_nul_character_is_refused_with_a_clear_message(api):
    response = api.trigger("hello-world", {}, tags=["a\x00b"])

    assert response.status_code == 400
    assert "NUL" in response.json()["error"]
    assert not Run.objects.exists()


def test_a_lone_surrogate_is_refused_with_a_clear_message(api):
    raw = '{"payload": "\\ud800"}'
    response = api.post("/api/v1/tasks/hello-world/trigger", raw=raw)

    assert response.status_code == 400
    assert response.json() == {"error": UNUSABLE_VALUE_MESSAGE}
    assert not Run.objects.exists()


def refused_by_postgresql(*args, **kwargs):
    """Raise the DataError PostgreSQL gives a value it cannot take: it quotes it."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT %s::integer", [SUBMITTED_VALUE])


def test_a_value_postgresql_refuses_gets_a_fixed_400_that_does_not_echo_it(
    api, caplog
):
    with mock.patch("runs.engine.trigger_run", side_effect=refused_by_postgresql):
        response = api.trigger("hello-world", {})

    assert response.status_code == 400
    assert response.json() == {"error": UNUSABLE_VALUE_MESSAGE}
    assert SUBMITTED_VALUE.encode() not in response.content
    assert SUBMITTED_VALUE not in caplog.text
    [record] = [
        r for r in caplog.records if getattr(r, "action", "") == "unusable_value"
    ]
    # The log says what kind of refusal it was (SQLSTATE 22P02: invalid text
    # representation) and where, so the case can be found without the value.
    assert "DataError 22P02 at " in record.getMessage()
    assert not Run.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_text_longer_than_its_column_is_refused_without_quoting_it(api):
    key = SUBMITTED_VALUE * 10

    response = api.trigger("hello-world", {}, concurrencyKey=key)

    assert response.status_code == 400
    assert response.json() == {"error": UNUSABLE_VALUE_MESSAGE}
    assert SUBMITTED_VALUE.encode() not in response.content
    assert not Run.objects.exists()
