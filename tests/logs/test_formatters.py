"""The log formats: documented fields only, secrets masked, run fields bound."""

import json
import logging

import pytest

from observability import logs

KEY = "tr_prod_" + "AbCdEfGhIjKlMnOpQrSt" + "Wxyz"


def record(message="attempt started", args=(), **extra):
    rec = logging.LogRecord(
        "runs.engine", logging.INFO, __file__, 1, message, args, None
    )
    for key, value in extra.items():
        setattr(rec, key, value)
    return rec


def test_json_lines_carry_the_message_and_the_documented_fields():
    line = logs.JsonFormatter().format(
        record(
            action="attempt_started",
            run_id="run_1",
            attempt=2,
            payload={"card": "4242"},
        )
    )

    data = json.loads(line)
    assert data["message"] == "attempt started"
    assert data["level"] == "INFO" and data["logger"] == "runs.engine"
    assert data["action"] == "attempt_started"
    assert data["run_id"] == "run_1" and data["attempt"] == 2
    assert "payload" not in data and "4242" not in line


@pytest.mark.parametrize(
    "formatter", [logs.JsonFormatter(), logs.PlainFormatter()], ids=["json", "plain"]
)
def test_secret_keys_and_bearer_tokens_are_masked(formatter):
    line = formatter.format(
        record("key %s sent Authorization: Bearer %s", (KEY, "abc.def"))
    )

    assert KEY not in line and "abc.def" not in line
    assert "tr_prod_****Wxyz" in line
    assert "Bearer ****" in line


def test_exceptions_are_one_json_field():
    try:
        raise ValueError(f"bad key {KEY}")
    except ValueError:
        import sys

        rec = record(exc_info=None)
        rec.exc_info = sys.exc_info()

    data = json.loads(logs.JsonFormatter().format(rec))
    assert "ValueError" in data["exception"]
    assert KEY not in data["exception"]


def test_plain_lines_append_the_fields_as_key_value_pairs():
    line = logs.PlainFormatter().format(record(action="run_canceled", run_id="run_9"))

    assert line.endswith("runs.engine attempt started action=run_canceled run_id=run_9")


def test_the_context_filter_binds_the_run_being_executed():
    token = logs.bound.set(
        {"run_id": "run_7", "task": "send-email", "environment": "shop/prod"}
    )
    try:
        rec = record("user code says hi")
        logs.ContextFilter().filter(rec)
    finally:
        logs.bound.reset(token)

    data = json.loads(logs.JsonFormatter().format(rec))
    assert data["run_id"] == "run_7"
    assert data["task"] == "send-email"
    assert data["environment"] == "shop/prod"


def test_fields_given_by_the_call_win_over_bound_ones():
    token = logs.bound.set({"run_id": "run_parent"})
    try:
        rec = record(run_id="run_child")
        logs.ContextFilter().filter(rec)
    finally:
        logs.bound.reset(token)

    assert rec.run_id == "run_child"
