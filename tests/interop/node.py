"""Running the interop scripts: install the pinned SDK, run a script, read its JSON."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
NODE_MODULES = HERE / "node_modules"
# Written after a successful install: the hash of the manifest and lock it came from.
STAMP = NODE_MODULES / ".triggerkit-installed"
INSTALL_TIMEOUT_SECONDS = 240
SCRIPT_TIMEOUT_SECONDS = 90


class NodeUnavailableError(RuntimeError):
    """Node.js or npm is missing, or the packages could not be installed."""


def manifest_hash() -> str:
    digest = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        path = HERE / name
        if path.exists():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise NodeUnavailableError(
            f"`{name}` is not on PATH: the interop tests drive the official "
            "@trigger.dev/sdk and need Node.js 18.20+ with npm installed"
        )
    return path


def install_packages() -> None:
    """Install node_modules from the lock file unless it is already up to date."""
    require_tool("node")
    npm = require_tool("npm")
    wanted = manifest_hash()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return

    # `npm ci` installs exactly the lock file; `npm install` only to create one.
    command = "ci" if (HERE / "package-lock.json").exists() else "install"
    try:
        result = subprocess.run(
            [npm, command, "--no-audit", "--no-fund"],
            cwd=HERE,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT_SECONDS,
        )
    except subprocess.TimeoutExpired as exc:
        raise NodeUnavailableError(
            f"`npm {command}` in {HERE} took over {INSTALL_TIMEOUT_SECONDS}s"
        ) from exc
    if result.returncode != 0:
        raise NodeUnavailableError(
            f"`npm {command}` in {HERE} failed ({result.returncode}):\n"
            f"{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
        )
    STAMP.write_text(manifest_hash())


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
