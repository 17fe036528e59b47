"""Stacks for fault injection: each test gets its own database, Redis and processes."""

from __future__ import annotations

import itertools
import logging

import pytest

from tests.reliability.stack import (
    TEMPLATE_DATABASE,
    PostgresCluster,
    RedisServer,
    Stack,
    prepare_template,
)

_numbers = itertools.count(1)
# Trigger streams send hundreds of requests; one log line each drowns the report.
logging.getLogger("httpx").setLevel(logging.WARNING)
ACCOUNTING_PREFIX = "accounting:"
# (test id, line) of every accounting line printed by a test of this folder.
_accounting_lines: list[tuple[str, str]] = []


def pytest_runtest_logreport(report):
    """Keep each test's accounting lines: pytest shows its output only on failure."""
    if report.when != "call":
        return
    for line in report.capstdout.splitlines():
        if line.startswith(ACCOUNTING_PREFIX):
            _accounting_lines.append((report.nodeid, line))


def pytest_terminal_summary(terminalreporter):
    if not _accounting_lines:
        return
    terminalreporter.section("fault-injection accounting")
    for nodeid, line in _accounting_lines:
        terminalreporter.write_line(f"{nodeid}: {line}")


@pytest.fixture(scope="session")
def reliability_cluster(tmp_path_factory):
    """One throwaway PostgreSQL cluster, with a migrated template database."""
    cluster = PostgresCluster()
    try:
        cluster.init()
        cluster.start()
        key = prepare_template(cluster, tmp_path_factory.mktemp("template"))
        yield cluster, key
    finally:
        cluster.destroy()


@pytest.fixture
def make_stack(reliability_cluster, tmp_path):
    """Build a stack on a fresh copy of the template database and a new Redis."""
    cluster, key = reliability_cluster
    stacks: list[Stack] = []
    servers: list[RedisServer] = []

    def make(**extra_env: str) -> Stack:
        number = next(_numbers)
        database = f"reliability_{number}"
        cluster.create_database(database, template=TEMPLATE_DATABASE)
        broker = RedisServer(tmp_path / f"redis{number}")
        broker.start()
        servers.append(broker)
        work_dir = tmp_path / f"stack{number}"
        work_dir.mkdir()
        stack = Stack(cluster, broker, database, key, work_dir, extra_env)
        stacks.append(stack)
        return stack

    yield make
    for stack in stacks:
        stack.stop()
    for server in servers:
        server.stop()
    # A test that stopped the database must leave it running for the next one.
    cluster.start_if_stopped()
