"""The bench keeps working: its tiniest mode, one scenario, and a report with every section.

It asserts what the report contains, never a figure in it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench.report import SECTIONS

ROOT = Path(__file__).resolve().parent.parent
# Redis dbs 4 to 7, apart from the suite's and from a full bench run's (8 to 11).
SMOKE_REDIS_DB_BASE = 4
SMOKE_TIMEOUT_SECONDS = 600


def test_quick_bench_writes_a_report_with_every_section(tmp_path):
    report = tmp_path / "benchmarks.md"

    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--quick",
            "--no-install",
            "--targets",
            "machine",
            "--only",
            "queries",
            "--report",
            str(report),
            "--redis-db-base",
            str(SMOKE_REDIS_DB_BASE),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=SMOKE_TIMEOUT_SECONDS,
        check=False,
    )

    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    text = report.read_text()
    for section in SECTIONS:
        assert section in text
    assert "| trigger request (HTTP API, all of it) |" in text
    assert "quick mode" in text
    assert (tmp_path / "benchmarks" / "results.json").exists()
