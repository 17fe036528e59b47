"""Accessibility checks in the browser with axe-core, installed from npm.

As the interop tests do with the official SDK, the pinned package is installed
with `npm ci` from this folder's lock file (tests/npm.py).
"""

from __future__ import annotations

from pathlib import Path

from tests.npm import install_from_lock

HERE = Path(__file__).resolve().parent
AXE_SCRIPT = HERE / "node_modules" / "axe-core" / "axe.min.js"
# What a check fails on; "minor" and "moderate" findings are left to review.
FAILING_IMPACTS = ("serious", "critical")
# Nodes listed per violation in a failure message.
NODES_SHOWN = 5


def install_axe() -> str:
    """Install axe-core unless it is up to date; return its script."""
    install_from_lock(
        HERE,
        "the accessibility checks inject axe-core from npm and need Node.js with npm",
    )
    return AXE_SCRIPT.read_text()


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
