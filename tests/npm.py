"""Installing a test folder's pinned npm packages from its lock file.

A folder with a package.json (and its package-lock.json) gets `npm ci`, once
per change of those files: a stamp in node_modules records the hash they had
when the install succeeded.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

INSTALL_TIMEOUT_SECONDS = 240
STAMP_NAME = ".triggerkit-installed"


class NpmUnavailableError(RuntimeError):
    """Node.js or npm is missing, or the packages could not be installed."""


def require_tool(name: str, needed_for: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise NpmUnavailableError(f"`{name}` is not on PATH: {needed_for}")
    return path


def manifest_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        path = folder / name
        if path.exists():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def install_from_lock(folder: Path, needed_for: str) -> None:
    """Install `folder`'s node_modules unless they match its manifest already.

    `needed_for` ends the message when npm is missing: what the packages serve.
    """
    npm = require_tool("npm", needed_for)
    stamp = folder / "node_modules" / STAMP_NAME
    wanted = manifest_hash(folder)
    if stamp.exists() and stamp.read_text() == wanted:
        return

    # `npm ci` installs exactly the lock file; `npm install` only to create one.
    command = "ci" if (folder / "package-lock.json").exists() else "install"
    try:
        result = subprocess.run(
            [npm, command, "--no-audit", "--no-fund"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT_SECONDS,
        )
    except subprocess.TimeoutExpired as exc:
        raise NpmUnavailableError(
            f"`npm {command}` in {folder} took over {INSTALL_TIMEOUT_SECONDS}s"
        ) from exc
    if result.returncode != 0:
        raise NpmUnavailableError(
            f"`npm {command}` in {folder} failed ({result.returncode}):\n"
            f"{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
        )
    stamp.write_text(wanted)
