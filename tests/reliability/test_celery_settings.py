"""Celery is set up so that the broker can lose messages without losing runs."""

from __future__ import annotations

import ast

from django.conf import settings

from runs.tasks import execute_run
from tests.live import ROOT

SERVER_PACKAGES = ["apikeys", "config", "dashboard", "runs"]


def test_a_message_is_acknowledged_only_once_its_attempt_has_run():
    assert execute_run.acks_late is True
    assert settings.CELERY_TASK_ACKS_LATE is True
    assert settings.CELERY_TASK_REJECT_ON_WORKER_LOST is True
    # A worker holds at most one message per free process: a killed worker
    # strands no backlog of messages until the visibility timeout.
    assert settings.CELERY_WORKER_PREFETCH_MULTIPLIER == 1


def test_no_server_code_schedules_a_message_for_later():
    """Time lives in the database (ARCHITECTURE.md, invariant 7): no eta, no countdown."""
    offenders = []
    for package in SERVER_PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.keyword) and node.arg in ("eta", "countdown"):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.value.lineno}")

    assert offenders == []
