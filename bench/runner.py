"""One target's run of the bench, in its own process (Django is configured once per process).

`python -m bench` starts this module with DATABASE_URL and CELERY_BROKER_URL
pointing at the target's bench database and Redis db; it writes its results
as JSON for the report.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from bench import SCENARIOS
from bench.api import Api
from bench.processes import BENCH_RATE_LIMIT_PER_MINUTE, Process, Processes
from bench.services import Target

# (full, quick) sizes of every scenario.
SIZES = {
    "trigger_seconds": (5, 1),
    "repeats": (3, 2),
    "batches": (10, 2),
    "payload_requests": (10, 2),
    "compare_repeats": (3, 1),
    "noop_runs": (20_000, 300),
    "drain_cap_seconds": (40, 20),
    "latency_samples": (80, 15),
    "delayed_runs": (1000, 100),
    "delayed_repeats": (2, 1),
    "delay_lead_seconds": (5, 3),
    "fanout_children": (1000, 50),
    "fanout_repeats": (2, 1),
    "fairness_hot": (200, 20),
    "fairness_cold": (10, 3),
    "list_runs": (1_000_000, 20_000),
    "list_requests": (20, 3),
    "profile_calls": (300, 30),
    "profile_batches": (5, 1),
    "index_rows": (2000, 200),
    "load_triggers": (20_000, 300),
}


@dataclass
class Context:
    target: Target
    quick: bool
    processes: Processes
    databases: dict[str, str]
    charts_dir: Path
    base_url: str = ""
    web: Process | None = None
    environment: object = None
    secret_key: str = ""
    results: dict = field(default_factory=dict)

    def size(self, name: str) -> int:
        full, quick = SIZES[name]
        return quick if self.quick else full

    def api(self) -> Api:
        return Api(self.base_url, self.secret_key)

    def reset_runs(self) -> None:
        from bench.triggerkit import reset_runs

        reset_runs()


def setup_django() -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["TRIGGERKIT_API_RATE_LIMIT_PER_MINUTE"] = str(BENCH_RATE_LIMIT_PER_MINUTE)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def create_project(name: str):
    """A project whose environments know the bench tasks; its production key."""
    from apikeys.models import (
        Environment,
        EnvironmentKind,
        create_api_key,
        create_project,
    )
    from runs import engine, worker

    project = create_project(name, name)
    environments = {
        env.kind: env for env in Environment.objects.filter(project=project)
    }
    definitions = [
        worker.definition_of(task) for task in worker.load_task_modules().values()
    ]
    engine.register_tasks(definitions, list(environments.values()))
    production = environments[EnvironmentKind.PRODUCTION]
    staging = environments[EnvironmentKind.STAGING]
    return (
        production,
        create_api_key(production)[1],
        staging,
        create_api_key(staging)[1],
    )


def machine_facts() -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        postgres = cursor.fetchone()[0].split(" on ")[0]
    return {
        "python": platform.python_version(),
        "cores": psutil.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "postgres": postgres,
        "load_average_at_start": [round(value, 2) for value in os.getloadavg()],
        "cpu_pressure_at_start": cpu_pressure(),
    }


def cpu_pressure() -> str:
    """The kernel's CPU pressure line: the share of time runnable tasks waited for a core."""
    try:
        return Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except OSError:
        return "unknown"


def run(ctx: Context, only: list[str]) -> None:
    from bench import queries, runs_list, scenarios
    from bench.systems import CeleryPlain, CeleryResults, Procrastinate
    from bench.triggerkit import Triggerkit, start_web

    results = ctx.results
    results["facts"] = machine_facts()
    results["quick"] = ctx.quick
    results["target"] = ctx.target.name
    ctx.environment, ctx.secret_key, history_env, history_key = create_project("bench")
    ctx.web, ctx.base_url = start_web(ctx.processes)
    from bench.processes import memory_of

    results["web_idle_memory"] = memory_of(ctx.web).as_dict()
    api = ctx.api()
    triggerkit = Triggerkit(ctx.target, ctx.processes, api, ctx.environment)

    def scenario(name: str, function, *args) -> None:
        if name not in only:
            return
        print(f"[{ctx.target.name}] {name} …", flush=True)
        started = time.monotonic()
        load_before = os.getloadavg()[0]
        try:
            results[name] = function(*args)
        except Exception as exc:  # noqa: BLE001 - one broken scenario must not lose the others
            traceback.print_exc()
            results[name] = {"error": f"{type(exc).__name__}: {exc}"}
        results.setdefault("timings", {})[name] = {
            "seconds": round(time.monotonic() - started, 1),
            "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            "cpu_pressure_after": cpu_pressure(),
        }
        ctx.reset_runs()

    scenario("queries", lambda: queries.count_queries(ctx.environment, ctx.secret_key))
    scenario("trigger", scenarios.trigger_api, ctx)
    scenario("payloads", scenarios.payloads, ctx)

    def compare():
        systems = [triggerkit]
        if ctx.target.name == "machine":
            systems += [
                CeleryPlain(ctx.target, ctx.processes),
                CeleryResults(
                    ctx.target, ctx.processes, ctx.databases["bench_celery_results"]
                ),
                Procrastinate(
                    ctx.target, ctx.processes, ctx.databases["bench_procrastinate"]
                ),
            ]
        return scenarios.compare(ctx, systems)

    scenario("compare", compare)
    scenario("delayed", scenarios.delayed, ctx, triggerkit)
    scenario("fanout", scenarios.fanout, ctx, triggerkit)
    scenario("fairness", scenarios.fairness, ctx, triggerkit)
    scenario("load", scenarios.load, ctx, triggerkit)

    def profiles():
        from bench.profiles import profile_batch, profile_trigger, profile_worker

        calls = ctx.size("profile_calls")
        return {
            "batch": profile_batch(
                ctx.secret_key,
                ctx.size("profile_batches"),
                ctx.charts_dir / f"profile-batch-{ctx.target.name}.txt",
            ),
            "trigger": profile_trigger(
                ctx.environment,
                ctx.secret_key,
                calls,
                ctx.charts_dir / f"profile-trigger-{ctx.target.name}.txt",
            ),
            "worker": profile_worker(
                ctx.environment,
                calls,
                ctx.charts_dir / f"profile-worker-{ctx.target.name}.txt",
            ),
        }

    scenario("profiles", profiles)

    def listing():
        seeded = runs_list.seed_history(history_env, ctx.size("list_runs"))
        result = runs_list.runs_list(ctx, history_env, history_key)
        result["seed"] = seeded
        result["queries_at_size"] = queries.count_queries(
            ctx.environment, ctx.secret_key
        )
        return result

    scenario("list", listing)
    scenario(
        "indexes",
        lambda: queries.index_write_cost(ctx.environment, ctx.size("index_rows")),
    )
    api.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--target-json", required=True)
    parser.add_argument("--databases-json", required=True)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", default=",".join(SCENARIOS))
    parser.add_argument("--out", required=True)
    parser.add_argument("--log-dir", required=True)
    parser.add_argument("--charts-dir", required=True)
    args = parser.parse_args()

    # SIGTERM (the orchestrator's timeout) still stops every process this runner started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    target = Target(**json.loads(args.target_json))
    databases = json.loads(args.databases_json)
    setup_django()
    processes = Processes(dict(os.environ), Path(args.log_dir))
    ctx = Context(target, args.quick, processes, databases, Path(args.charts_dir))
    try:
        run(ctx, args.only.split(","))
    finally:
        processes.stop_all()
        Path(args.out).write_text(json.dumps(ctx.results, indent=1, default=str))
    sys.exit(0)


if __name__ == "__main__":
    main()
