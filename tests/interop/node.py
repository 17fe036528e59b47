"""Running the interop scripts: install the pinned SDK, run a script, read its JSON."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.npm import install_from_lock, require_tool

HERE = Path(__file__).resolve().parent
NODE_MODULES = HERE / "node_modules"
SCRIPT_TIMEOUT_SECONDS = 90
NEEDED_FOR = (
    "the interop tests drive the official @trigger.dev/sdk and need Node.js "
    "18.20+ with npm installed"
)


def install_packages() -> None:
    """Install the pinned SDK from the lock file unless it is already up to date."""
    require_tool("node", NEEDED_FOR)
    install_from_lock(HERE, NEEDED_FOR)


@dataclass
class NodeSDK:
    """Runs scenario scripts against one server with one secret key."""

    url: str
    key: str

    def run(self, script: str, key: str | None = None, **inputs: Any) -> Any:
        """Run `script` and return the JSON document it printed.

        Inputs reach the script as environment variables; non-strings are sent as JSON.
        """
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", str(HERE)),
            "TRIGGER_API_URL": self.url,
            "TRIGGER_SECRET_KEY": key or self.key,
        }
        for name, value in inputs.items():
            env[name] = value if isinstance(value, str) else json.dumps(value)

        result = subprocess.run(
            ["node", str(HERE / script)],
            cwd=HERE,
            env=env,
            capture_output=True,
            text=True,
            timeout=SCRIPT_TIMEOUT_SECONDS,
        )
        assert result.returncode == 0, (
            f"{script} exited with {result.returncode}\n"
            f"--- stderr ---\n{result.stderr}\n--- stdout ---\n{result.stdout}"
        )
        try:
            return json.loads(result.stdout)
        except json.JSONDecodeError as exc:
            raise AssertionError(
                f"{script} printed no JSON document ({exc})\n"
                f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
            ) from exc
