"""`python -m bench`: run every scenario of issue 9 and write docs/benchmarks.md.

    .venv/bin/python -m bench                 # full run, machine services (and embedded)
    .venv/bin/python -m bench --quick         # tiny counts, for a smoke test
    .venv/bin/python -m bench --only trigger  # some scenarios only

Each target (the machine's PostgreSQL + Redis, the embedded defaults) runs in
a child process with its own bench_* databases and Redis dbs, dropped at the
end. The report and charts are written from the children's JSON results.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from bench import SCENARIOS
from bench.install import ensure_installed

ROOT = Path(__file__).resolve().parent.parent
LOG_ROOT = ROOT / "var" / "bench-logs"
# (full, quick): a target's runner is stopped after this long, whatever it is doing.
RUNNER_TIMEOUT_SECONDS = (3600, 900)
DATABASES = ("bench_triggerkit", "bench_celery_results", "bench_procrastinate")
# What the embedded target runs: Triggerkit alone (the peers run on the machine's services).
EMBEDDED_SCENARIOS = ("queries", "trigger", "compare", "delayed")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="tiny counts (smoke test)")
    parser.add_argument(
        "--only",
        default=",".join(SCENARIOS),
        help=f"comma-separated scenarios out of {', '.join(SCENARIOS)}",
    )
    parser.add_argument(
        "--targets",
        default="machine,embedded",
        help="machine, embedded, or both (default)",
    )
    parser.add_argument("--report", default=str(ROOT / "docs" / "benchmarks.md"))
    parser.add_argument(
        "--charts-dir",
        default=None,
        help="where PNG charts go (default: beside the report, benchmarks/)",
    )
    parser.add_argument(
        "--redis-db-base",
        type=int,
        default=8,
        help="first of the four Redis db numbers the bench may flush",
    )
    parser.add_argument(
        "--merge",
        action="store_true",
        help="keep the other scenarios' results from the last results.json",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="rewrite the report and charts from the last results.json; run nothing",
    )
    parser.add_argument(
        "--no-install",
        action="store_true",
        help="do not pip-install the bench extra when something is missing",
    )
    return parser.parse_args(argv)


def run_target(target, args, only: str, work: Path, charts_dir: Path) -> dict:
    suffix = f"_{os.getpid()}"
    databases = {name: target.create_database(name + suffix) for name in DATABASES}
    out = work / f"{target.name}.json"
    # Kept after the run (var/ is ignored by git), for when a process misbehaves.
    log_dir = LOG_ROOT / target.name
    shutil.rmtree(log_dir, ignore_errors=True)
    log_dir.mkdir(parents=True)
    env = {
        **os.environ,
        "DATABASE_URL": databases["bench_triggerkit"],
        "CELERY_BROKER_URL": target.broker_url("triggerkit"),
        "TRIGGERKIT_TASK_MODULES": "bench.tasks",
        "TRIGGERKIT_VAR_DIR": str(work / "var"),
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
        # Console scripts (celery, procrastinate) put their own folder first on sys.path.
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])
        ),
    }
    for system in ("triggerkit", "celery", "celery-results", "stamps"):
        target.flush(system)
    command = [
        sys.executable,
        "-m",
        "bench.runner",
        "--target-json",
        json.dumps(asdict(target)),
        "--databases-json",
        json.dumps({name: url for name, url in zip(DATABASES, databases.values())}),
        "--only",
        only,
        "--out",
        str(out),
        "--log-dir",
        str(log_dir),
        "--charts-dir",
        str(charts_dir),
    ] + (["--quick"] if args.quick else [])
    started = time.monotonic()
    runner = subprocess.Popen(command, cwd=ROOT, env=env)
    try:
        returncode = runner.wait(RUNNER_TIMEOUT_SECONDS[1 if args.quick else 0])
    except subprocess.TimeoutExpired:
        runner.terminate()
        returncode = runner.wait()
    finally:
        for name in databases:
            target.drop_database(name + suffix)
        for system in ("triggerkit", "celery", "celery-results", "stamps"):
            target.flush(system)
    results = json.loads(out.read_text()) if out.exists() else {}
    results["seconds"] = round(time.monotonic() - started, 1)
    if returncode:
        results["error"] = f"runner exited with {returncode}; see the logs in {log_dir}"
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if not args.no_install:
        ensure_installed()
    from bench import services

    report_path = Path(args.report)
    charts_dir = (
        Path(args.charts_dir) if args.charts_dir else report_path.parent / "benchmarks"
    )
    charts_dir.mkdir(parents=True, exist_ok=True)
    if args.report_only:
        rewrite_report(report_path, charts_dir)
        print(f"rewrote {report_path} from {charts_dir / 'results.json'}")
        return 0
    targets = [name.strip() for name in args.targets.split(",") if name.strip()]
    all_results: dict[str, dict] = {}
    skipped: dict[str, str] = {}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tkb-") as tmp:
        work = Path(tmp)
        if "machine" in targets:
            target = services.machine_target(args.redis_db_base)
            all_results["machine"] = run_target(
                target, args, args.only, work, charts_dir
            )
        if "embedded" in targets:
            only = ",".join(s for s in args.only.split(",") if s in EMBEDDED_SCENARIOS)
            skipped["embedded"] = (
                "ran "
                + (only or "nothing")
                + "; the peers and the other scenarios ran on the machine's services only"
            )
            try:
                target = services.embedded_target(work / "var")
            except Exception as exc:  # noqa: BLE001 - reported, the machine results still count
                skipped["embedded"] = f"could not start the embedded servers: {exc}"
            else:
                try:
                    all_results["embedded"] = run_target(
                        target, args, only, work, charts_dir
                    )
                finally:
                    services.stop_embedded()
    elapsed = time.monotonic() - started
    if args.merge:
        all_results = merge_earlier(all_results, charts_dir / "results.json")
    all_results["_meta"] = {"skipped": skipped, "elapsed": elapsed, "quick": args.quick}
    (charts_dir / "results.json").write_text(json.dumps(all_results, indent=1))
    # Written from the file, so that a merged report tells the first run's
    # duration and every target's origin, as --report-only does.
    rewrite_report(report_path, charts_dir)
    print(f"wrote {report_path} and {charts_dir}/ in {elapsed:.0f}s")
    return 1 if any("error" in result for result in all_results.values()) else 0


def rewrite_report(report_path: Path, charts_dir: Path) -> None:
    from bench import report

    results = json.loads((charts_dir / "results.json").read_text())
    meta = results.pop("_meta", {})
    # The first run's duration: merges keep each target's own `seconds`.
    elapsed = sum(r.get("seconds", 0) for r in results.values()) or meta.get(
        "elapsed", 0
    )
    skipped = meta.get("skipped") or {}
    if "embedded" in results and "embedded" not in skipped:
        ran = [name for name in SCENARIOS if name in results["embedded"]]
        skipped["embedded"] = (
            f"ran {','.join(ran)}; the peers and the other scenarios ran on the machine's services only"
        )
    report.write(
        results, skipped, report_path, charts_dir, elapsed, meta.get("quick", False)
    )


def merge_earlier(fresh: dict, path: Path) -> dict:
    """Overlay this run's scenarios on the last run's results, saying which are older."""
    if not path.exists():
        return fresh
    from bench import SCENARIOS

    merged = json.loads(path.read_text())
    merged.pop("_meta", None)
    for target, results in fresh.items():
        old = merged.setdefault(target, {})
        earlier = old.get("rerun", {}).get("scenarios", [])
        ran = [name for name in SCENARIOS if name in results or name in earlier]
        kept = [name for name in SCENARIOS if name in old and name not in ran]
        for name in (name for name in ran if name in results):
            old[name] = results[name]
            old.setdefault("timings", {})[name] = results.get("timings", {}).get(
                name, {}
            )
        old["rerun"] = {"scenarios": ran, "kept_from_earlier_run": kept}
    return merged


if __name__ == "__main__":
    sys.exit(main())
