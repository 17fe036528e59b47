"""The hot statements are prepared once per connection and read runs as the ORM does."""

import pytest
from django.db import connection

from runs.engine import (
    TriggerSpec,
    complete_attempt,
    dispatch,
    start_attempt,
    trigger_run,
)
from runs.models import Run, RunStatus


@pytest.fixture
def env(project):
    return project.environments["DEVELOPMENT"]


def prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [statement for (statement,) in cursor.fetchall()]


def claim(env, spec: TriggerSpec):
    run = trigger_run(env, "echo", spec).run
    dispatch(env.pk)
    return start_attempt(run.pk, "test-worker")


def test_the_claim_reads_the_run_as_the_orm_does(env):
    spec = TriggerSpec(
        payload='{"order": 42, "items": ["a", "b"]}',
        tags=["vip", "user:7"],
        metadata={"step": "one", "nested": {"n": 1}},
        concurrency_key="tenant-7",
    )

    started = claim(env, spec)

    stored = Run.objects.get(pk=started.run.pk)
    for field in Run._meta.concrete_fields:
        assert getattr(started.run, field.attname) == getattr(stored, field.attname), field.name
    assert started.run.status == RunStatus.EXECUTING
    assert started.run.metadata == {"step": "one", "nested": {"n": 1}}
    assert started.attempt.number == 1
    assert started.environment_label == f"{env.project.slug}/dev"


def test_claim_and_end_of_attempt_are_prepared_on_the_connection(env):
    started = claim(env, TriggerSpec())
    assert complete_attempt(started.attempt, "null", "application/json", [])

    statements = prepared_statements()
    assert any("INSERT INTO runs_attempt" in text for text in statements), statements
    assert any("WITH ended AS" in text for text in statements), statements
    assert any("pg_try_advisory_xact_lock" in text for text in statements), statements


def test_nothing_is_prepared_when_switched_off(env, monkeypatch):
    # What DATABASE_PREPARED_STATEMENTS=false gives every new connection.
    connection.ensure_connection()
    monkeypatch.setattr(connection.connection, "prepare_threshold", None)
    before = set(prepared_statements())

    started = claim(env, TriggerSpec())
    assert complete_attempt(started.attempt, "null", "application/json", [])

    assert set(prepared_statements()) == before
    assert Run.objects.get(pk=started.run.pk).status == RunStatus.COMPLETED
