"""Fixtures for driving the official TypeScript SDK against a live Triggerkit."""

from __future__ import annotations

import pytest

from tests.interop.node import NodeSDK, install_packages
from tests.npm import NpmUnavailableError


@pytest.fixture(scope="session")
def node_packages() -> None:
    """Install the pinned SDK once per session; fail, never skip, without npm."""
    problem = None
    try:
        install_packages()
    except NpmUnavailableError as exc:
        problem = str(exc)
    if problem:
        pytest.fail(problem, pytrace=False)


@pytest.fixture
def node_sdk(node_packages, platform, live_project) -> NodeSDK:
    """The SDK pointed at the live platform with a fresh project's development key."""
    return NodeSDK(platform.url, live_project.dev)
