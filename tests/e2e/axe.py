"""Accessibility checks in the browser with axe-core, installed from npm.

As the interop tests do with the official SDK, the pinned package is installed
with `npm ci` from this folder's lock file, once per change of the lock file.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
NODE_MODULES = HERE / "node_modules"
# Written after a successful install: the hash of the manifest and lock it came from.
STAMP = NODE_MODULES / ".triggerkit-installed"
AXE_SCRIPT = NODE_MODULES / "axe-core" / "axe.min.js"
INSTALL_TIMEOUT_SECONDS = 240
# What a check fails on; "minor" and "moderate" findings are left to review.
FAILING_IMPACTS = ("serious", "critical")
# Nodes listed per violation in a failure message.
NODES_SHOWN = 5


class AxeUnavailableError(RuntimeError):
    """npm is missing, or axe-core could not be installed."""


def manifest_hash() -> str:
    digest = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        digest.update((HERE / name).read_bytes())
    return digest.hexdigest()


def install_axe() -> str:
    """Install axe-core unless it is up to date; return its script."""
    npm = shutil.which("npm")
    if npm is None:
        raise AxeUnavailableError(
            "`npm` is not on PATH: the accessibility checks inject axe-core from npm "
            "and need Node.js with npm installed"
        )
    wanted = manifest_hash()
    if not (STAMP.exists() and STAMP.read_text() == wanted and AXE_SCRIPT.exists()):
        run_npm_ci(npm)
        STAMP.write_text(wanted)
    return AXE_SCRIPT.read_text()


def run_npm_ci(npm: str) -> None:
    try:
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=HERE,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT_SECONDS,
        )
    except subprocess.TimeoutExpired as exc:
        raise AxeUnavailableError(
            f"`npm ci` in {HERE} took over {INSTALL_TIMEOUT_SECONDS}s"
        ) from exc
    if result.returncode != 0:
        raise AxeUnavailableError(
            f"`npm ci` in {HERE} failed ({result.returncode}):\n"
            f"{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
        )


def serious_violations(page, script: str) -> list[dict]:
    """Run axe on the page as it is; return its serious and critical violations."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=script)
    results = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [v for v in results["violations"] if v["impact"] in FAILING_IMPACTS]


def describe(violations: list[dict]) -> str:
    """The violations as a readable list: rule, impact, help, and where."""
    lines = []
    for violation in violations:
        lines.append(
            f"- {violation['id']} ({violation['impact']}): {violation['help']}"
            f" <{violation['helpUrl']}>"
        )
        for node in violation["nodes"][:NODES_SHOWN]:
            summary = " ".join((node.get("failureSummary") or "").split())
            lines.append(f"    {' '.join(map(str, node['target']))}: {summary}")
        if len(violation["nodes"]) > NODES_SHOWN:
            lines.append(f"    … and {len(violation['nodes']) - NODES_SHOWN} more")
    return "\n".join(lines)
