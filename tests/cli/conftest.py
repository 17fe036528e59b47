from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass

import pytest

from tests.live import BIN, ROOT

CLI_TIMEOUT_SECONDS = 60


@dataclass
class Result:
    code: int
    out: str
    err: str


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = CLI_TIMEOUT_SECONDS
) -> Result:
    """Run the installed `triggerkit` script the way a user's shell would."""
    # As a user's shell has it: no key, and the project's own settings module.
    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("TRIGGER_") and k != "DJANGO_SETTINGS_MODULE"
    }
    environment.update(env or {})
    done = subprocess.run(
        [str(BIN / "triggerkit"), *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Result(done.returncode, done.stdout, done.stderr)


@pytest.fixture(scope="module")
def cli_project(live_db):
    """One project per test module: each new environment slows every worker's start."""
    from tests.conftest import create_test_project

    return create_test_project()


@pytest.fixture
def cli(platform, cli_project):
    """`triggerkit …` with the live server and the module project's dev key in its env."""
    live_project = cli_project
    env = {"TRIGGER_API_URL": platform.url, "TRIGGER_SECRET_KEY": live_project.dev}

    def call(*args: str, **kwargs) -> Result:
        return run_cli(*args, env={**env, **kwargs.pop("env", {})}, **kwargs)

    call.project = live_project
    return call
