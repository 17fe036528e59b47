"""The timed scenarios of issue 9 that need running processes.

Each returns plain data (dicts and lists) for the report. Nothing here asserts
a timing: the figures go to docs/benchmarks.md, never into a test.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from datetime import UTC, datetime
from typing import Any

import psutil

from bench.processes import CpuMeter, MemorySampler, memory_of, postgres_backends
from bench.stamps import STAMPS_KEY, wait_for_stamp
from bench.stats import latency_summary, over_repeats, percentile
from bench.systems import System

TRIGGER_CLIENTS = 8
BATCH_SIZE = 1000
IDLE_GAP_SECONDS = 0.05
COMPLETION_POLL_SECONDS = 0.2
FAST_POLL_SECONDS = 0.01
PAYLOAD_SIZES = {
    "1 KB": 1024,
    "512 KB": 512 * 1024,
    "2 MB": 2 * 1024 * 1024,
    # Just under the 10 MiB trigger limit (a payload over it is refused with 413).
    "10 MB": 10 * 1024 * 1024 - 1024,
}


def cpu_groups(ctx, *processes) -> dict:
    groups = {}
    for process in processes:
        if process is not None:
            groups[process.name] = process.tree
    names = {url.split("?")[0].rsplit("/", 1)[1] for url in ctx.databases.values()}
    groups["postgres (bench connections)"] = lambda: postgres_backends(names)
    groups["bench client"] = lambda: [psutil.Process()]
    return groups


# Scenario 1 -------------------------------------------------------------------


def trigger_api(ctx) -> dict:
    seconds, repeats, batches = (
        ctx.size("trigger_seconds"),
        ctx.size("repeats"),
        ctx.size("batches"),
    )
    runs = []
    with MemorySampler(ctx.web) as web_peak:
        for _ in range(repeats):
            ctx.reset_runs()
            with CpuMeter(cpu_groups(ctx, ctx.web)) as cpu:
                single = single_triggers(ctx, seconds)
            single["cpu_cores"] = cpu.result
            ctx.reset_runs()
            with CpuMeter(cpu_groups(ctx, ctx.web)) as cpu:
                batch = batch_triggers(ctx, batches)
            batch["cpu_cores"] = cpu.result
            runs.append({"single": single, "batch": batch})
    ctx.reset_runs()
    return {
        "clients": TRIGGER_CLIENTS,
        "seconds_per_repeat": seconds,
        "repeats": runs,
        "single_runs_per_second": over_repeats(
            [r["single"] for r in runs], "runs_per_second"
        ),
        "single_p50_ms": over_repeats([r["single"]["latency"] for r in runs], "p50_ms"),
        "single_p99_ms": over_repeats([r["single"]["latency"] for r in runs], "p99_ms"),
        "batch_runs_per_second": over_repeats(
            [r["batch"] for r in runs], "runs_per_second"
        ),
        "batch_p50_ms": over_repeats([r["batch"]["latency"] for r in runs], "p50_ms"),
        "batch_p99_ms": over_repeats([r["batch"]["latency"] for r in runs], "p99_ms"),
        "web_peak_memory": web_peak.peak.as_dict() if web_peak.peak else None,
    }


def single_triggers(ctx, seconds: float) -> dict:
    """8 keep-alive clients trigger as fast as the server answers, for `seconds`."""
    latencies: list[list[float]] = [[] for _ in range(TRIGGER_CLIENTS)]
    errors = [0] * TRIGGER_CLIENTS
    # Every client warms its connection first; the window opens once all are ready.
    ready, go = (
        threading.Barrier(TRIGGER_CLIENTS + 1),
        threading.Barrier(TRIGGER_CLIENTS + 1),
    )
    window: dict[str, float] = {}

    def client(number: int) -> None:
        api = ctx.api()
        api.trigger("bench-noop", {"warmup": number})
        ready.wait()
        go.wait()
        while time.perf_counter() < window["end"]:
            began = time.perf_counter()
            try:
                api.trigger("bench-noop", {"client": number})
            except Exception:  # noqa: BLE001 - counted and reported
                errors[number] += 1
                continue
            latencies[number].append(time.perf_counter() - began)
        api.close()

    threads = [
        threading.Thread(target=client, args=(n,)) for n in range(TRIGGER_CLIENTS)
    ]
    for thread in threads:
        thread.start()
    ready.wait()
    start_time = time.perf_counter()
    window["end"] = start_time + seconds
    go.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start_time
    flat = [value for values in latencies for value in values]
    return {
        "runs": len(flat),
        "errors": sum(errors),
        "runs_per_second": round(len(flat) / elapsed, 1),
        "latency": latency_summary(flat),
    }


def batch_triggers(ctx, count: int) -> dict:
    """One client sends `count` batches of 1,000 items, one after another."""
    api = ctx.api()
    api.batch("bench-noop", [{}] * 10)
    latencies = []
    for _ in range(count):
        began = time.perf_counter()
        api.batch("bench-noop", [{"i": i} for i in range(BATCH_SIZE)])
        latencies.append(time.perf_counter() - began)
    api.close()
    return {
        "batches": count,
        "runs_per_second": round(BATCH_SIZE * count / sum(latencies), 1),
        "latency": latency_summary(latencies),
    }


# Scenario 7 -------------------------------------------------------------------


def payloads(ctx) -> dict:
    import json

    from runs.models import Run

    requests = ctx.size("payload_requests")
    api = ctx.api()
    results = {}
    for label, size in PAYLOAD_SIZES.items():
        ctx.reset_runs()
        # A JSON string of `size` bytes once encoded: the quotes count.
        body = json.dumps({"payload": "x" * (size - 2)}).encode()
        api.trigger_raw("bench-noop", body)
        latencies = []
        for _ in range(requests):
            began = time.perf_counter()
            run_id = api.trigger_raw("bench-noop", body)
            latencies.append(time.perf_counter() - began)
        stored_as = (
            Run.objects.filter(pk=run_id).values_list("payload_type", flat=True).first()
        )
        results[label] = {
            "bytes": size,
            "latency": latency_summary(latencies),
            "stored": "object store"
            if stored_as == "application/store"
            else "inline in PostgreSQL",
        }
    api.close()
    ctx.reset_runs()
    return {
        "requests_per_size": requests,
        "sizes": results,
        "storage": payload_storage(),
    }


def payload_storage() -> str:
    """Where offloaded payloads go in this build, from its settings."""
    from django.conf import settings

    threshold = getattr(settings, "TRIGGERKIT_OFFLOAD_THRESHOLD_BYTES", None)
    if threshold is None:
        return "no object-store offload in this build: every payload is stored inline in PostgreSQL"
    store = (
        "S3"
        if getattr(settings, "TRIGGERKIT_S3_BUCKET", None)
        else "the local folder store (the default)"
    )
    return f"payloads over {threshold:,} bytes go to {store}"


# Scenarios 2, 3 and 6 ----------------------------------------------------------


def compare(ctx, systems: list[System]) -> dict:
    """Latency on an idle system, then n no-op runs, for each system, repeats interleaved."""
    repeats, count, samples = (
        ctx.size("compare_repeats"),
        ctx.size("noop_runs"),
        ctx.size("latency_samples"),
    )
    results: dict[str, dict[str, Any]] = {s.name: {"repeats": []} for s in systems}
    for _ in range(repeats):
        for system in systems:
            system.start()
            try:
                idle = memory_of(system.worker)
                latency = latency_series(ctx, system, samples)
                with (
                    MemorySampler(system.worker) as busy,
                    CpuMeter(
                        cpu_groups(ctx, system.worker, *system.extra, ctx.web)
                    ) as cpu,
                ):
                    throughput = drain(system, count, ctx.size("drain_cap_seconds"))
                throughput["cpu_cores"] = cpu.result
            finally:
                system.stop()
            results[system.name]["repeats"].append(
                {
                    "latency": latency,
                    "throughput": throughput,
                    "idle_memory": idle.as_dict() if idle else None,
                    "busy_memory": busy.peak.as_dict() if busy.peak else None,
                }
            )
    for result in results.values():
        runs = result["repeats"]
        result["runs_per_second"] = over_repeats(
            [r["throughput"] for r in runs], "runs_per_second"
        )
        result["start_p50_ms"] = over_repeats(
            [r["latency"]["start"] for r in runs], "p50_ms"
        )
        result["start_p99_ms"] = over_repeats(
            [r["latency"]["start"] for r in runs], "p99_ms"
        )
        result["ack_p50_ms"] = over_repeats(
            [r["latency"]["ack"] for r in runs], "p50_ms"
        )
        result["idle_largest_rss_mib"] = over_repeats(
            [r["idle_memory"] for r in runs if r["idle_memory"]], "largest_rss_mib"
        )
        result["busy_largest_rss_mib"] = over_repeats(
            [r["busy_memory"] for r in runs if r["busy_memory"]], "largest_rss_mib"
        )
    return {
        "runs": count,
        "cap_seconds": ctx.size("drain_cap_seconds"),
        "latency_samples": samples,
        "repeats": repeats,
        "systems": results,
    }


def latency_series(ctx, system: System, samples: int) -> dict:
    """Trigger one stamp task at a time on an idle system; time until its body starts."""
    channel = ctx.target.redis("stamps")
    channel.delete(STAMPS_KEY)
    start, ack = [], []
    for number in range(samples):
        token = f"lat-{number}"
        began = time.time()
        system.trigger_stamp(token)
        acknowledged = time.time()
        got, started = wait_for_stamp(channel, 30)
        if got != token:
            raise RuntimeError(f"expected stamp {token}, got {got}")
        start.append(started - began)
        ack.append(acknowledged - began)
        time.sleep(IDLE_GAP_SECONDS)
    return {"start": latency_summary(start), "ack": latency_summary(ack)}


def drain(system: System, count: int, cap_seconds: float) -> dict:
    """Submit `count` no-op jobs; rate of completions until all are done or the cap passes.

    The cap keeps the run bounded on a slow or shared machine; the report says
    how many of the jobs completed within it.
    """
    system.reset()
    began = time.time()
    system.enqueue_noops(count)
    submitted = time.time()
    poll = (
        FAST_POLL_SECONDS
        if system.name.startswith("Celery (")
        else COMPLETION_POLL_SECONDS
    )
    while True:
        done, last = system.completed()
        if done >= count and last is not None:
            break
        if time.time() - began > cap_seconds:
            last = time.time()
            break
        system.worker.check()
        time.sleep(poll)
    span = last - began
    return {
        "runs": count,
        "completed": min(done, count),
        "capped": done < count,
        "submit_seconds": round(submitted - began, 2),
        "seconds": round(span, 2),
        "runs_per_second": round(min(done, count) / span, 1),
    }


# Scenario 4 -------------------------------------------------------------------


def delayed(ctx, system) -> dict:
    """n runs due in the same second: how late does each start?"""
    from runs.models import Run

    count, repeats = ctx.size("delayed_runs"), ctx.size("delayed_repeats")
    channel = ctx.target.redis("stamps")
    results = []
    system.start()
    try:
        for _ in range(repeats):
            system.reset()
            channel.delete(STAMPS_KEY)
            due = math.ceil(time.time()) + ctx.size("delay_lead_seconds")
            due_at = datetime.fromtimestamp(due, tz=UTC)
            system.api.batch(
                "bench-stamp",
                [{"token": f"d-{i}"} for i in range(count)],
                {"delay": due_at.isoformat().replace("+00:00", "Z")},
            )
            late = [wait_for_stamp(channel, 120)[1] - due for _ in range(count)]
            rows = Run.objects.filter(
                environment=ctx.environment, task_identifier="bench-stamp"
            )
            queued = [
                (r.queue_timestamp.timestamp() - due)
                for r in rows.only("queue_timestamp")
            ]
            dequeued = [
                (r.dequeued_at.timestamp() - due) for r in rows.only("dequeued_at")
            ]
            results.append(
                {
                    "start": latency_summary(late),
                    "promoted": latency_summary(queued),
                    "dequeued": latency_summary(dequeued),
                }
            )
            system.wait_idle()
    finally:
        system.stop()
    return {
        "runs": count,
        "repeats": results,
        "start_p50_ms": over_repeats([r["start"] for r in results], "p50_ms"),
        "start_p99_ms": over_repeats([r["start"] for r in results], "p99_ms"),
        "promoted_p99_ms": over_repeats([r["promoted"] for r in results], "p99_ms"),
        "dequeued_p99_ms": over_repeats([r["dequeued"] for r in results], "p99_ms"),
    }


# Fan-out and fairness ------------------------------------------------------------


def fanout(ctx, system) -> dict:
    """A parent waits on n children with batch_trigger_and_wait."""
    from runs.models import Attempt, Run

    children, repeats = ctx.size("fanout_children"), ctx.size("fanout_repeats")
    results = []
    system.start()
    try:
        for _ in range(repeats):
            system.reset()
            began = time.time()
            parent_id = system.api.trigger("bench-fanout", {"n": children})
            parent = wait_final(parent_id, timeout=max(120, children / 5))
            last_child = max(
                Run.objects.filter(parent_run_id=parent_id).values_list(
                    "finished_at", flat=True
                )
            )
            resumed = (
                Attempt.objects.filter(run_id=parent_id)
                .order_by("-pk")
                .values_list("started_at", flat=True)
                .first()
            )
            results.append(
                {
                    "status": parent.status,
                    "wall_seconds": round(parent.finished_at.timestamp() - began, 2),
                    "resume_ms": round(
                        (resumed - last_child).total_seconds() * 1000, 1
                    ),
                    "children_per_second": round(
                        children / (last_child.timestamp() - began), 1
                    ),
                }
            )
    finally:
        system.stop()
    return {
        "children": children,
        "repeats": results,
        "wall_seconds": over_repeats(results, "wall_seconds"),
        "resume_ms": over_repeats(results, "resume_ms"),
    }


def wait_final(run_id: str, timeout: float):
    from runs.models import FINAL_STATUSES, Run

    deadline = time.monotonic() + timeout
    while True:
        run = Run.objects.get(pk=run_id)
        if run.status in FINAL_STATUSES:
            return run
        if time.monotonic() > deadline:
            raise TimeoutError(f"run {run_id} still {run.status} after {timeout}s")
        time.sleep(COMPLETION_POLL_SECONDS)


def fairness(ctx, system) -> dict:
    """One hot concurrency key with a backlog, four cold keys triggered just after it."""
    from runs.models import Run

    hot, cold_keys, cold_each = ctx.size("fairness_hot"), 4, ctx.size("fairness_cold")
    system.start()
    try:
        system.reset()
        system.api.batch("bench-keyed", [{}] * hot, {"concurrencyKey": "hot"})
        for key in range(cold_keys):
            system.api.batch(
                "bench-keyed", [{}] * cold_each, {"concurrencyKey": f"cold-{key}"}
            )
        system.wait_idle(timeout=max(60, hot / 5))
    finally:
        system.stop()
    rows = Run.objects.filter(
        environment=ctx.environment, task_identifier="bench-keyed"
    )
    by_key: dict[str, list] = {}
    for run in rows.only("concurrency_key", "created_at", "started_at", "finished_at"):
        by_key.setdefault(run.concurrency_key, []).append(run)
    keys = {}
    for key, runs in sorted(by_key.items()):
        waits = [(r.started_at - r.created_at).total_seconds() for r in runs]
        first = min(r.created_at for r in runs)
        keys[key] = {
            "runs": len(runs),
            "wait_p50_ms": round(percentile(waits, 50) * 1000, 1),
            "last_finished_after_s": round(
                (max(r.finished_at for r in runs) - first).total_seconds(), 2
            ),
        }
    return {"queue_limit_per_key": 1, "keys": keys}


# Load (issue 8) ---------------------------------------------------------------

LOAD_WORKERS = 2
LOAD_WORKER_CONCURRENCY = 1
LOAD_FINISH_CAP_SECONDS = 900


def load(ctx, system) -> dict:
    """n single triggers from 8 clients while two worker processes execute them.

    Every answer is counted by its status, and every accepted run is followed
    until it is final: the accounting says how many were lost (accepted, then
    missing or never final), created without an answer, or executed twice.
    """
    count = ctx.size("load_triggers")
    system.start_pools(LOAD_WORKERS, LOAD_WORKER_CONCURRENCY)
    try:
        began = time.time()
        answers = trigger_stream(ctx, count)
        triggered = time.time()
        finished = wait_all_final(ctx, answers["ids"], LOAD_FINISH_CAP_SECONDS)
    finally:
        system.stop()

    accounting = account_runs(ctx.environment, answers["ids"])
    last = accounting.pop("last_finished_at")
    span = (last or time.time()) - began
    return {
        "triggers": count,
        "clients": TRIGGER_CLIENTS,
        "workers": LOAD_WORKERS,
        "worker_concurrency": LOAD_WORKER_CONCURRENCY,
        "statuses": answers["statuses"],
        "client_errors": answers["errors"],
        "trigger_seconds": round(triggered - began, 2),
        "triggers_per_second": round(len(answers["ids"]) / (triggered - began), 1),
        "all_final": finished,
        "completion_seconds": round(span, 2),
        "completed_per_second": round(accounting["completed"] / span, 1),
        **accounting,
    }


def trigger_stream(ctx, count: int) -> dict:
    """8 keep-alive clients share `count` triggers; every answer is tallied."""
    statuses: dict[int, int] = {}
    ids: list[str] = []
    errors: list[str] = []
    lock = threading.Lock()
    shares = [count // TRIGGER_CLIENTS + (n < count % TRIGGER_CLIENTS) for n in range(TRIGGER_CLIENTS)]

    def client(number: int, share: int) -> None:
        api = ctx.api()
        for index in range(share):
            body = {"payload": {"client": number, "index": index}}
            try:
                response = api.client.post("/api/v1/tasks/bench-noop/trigger", json=body)
            except Exception as exc:  # noqa: BLE001 - counted and reported
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}")
                continue
            with lock:
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                if response.status_code == 200:
                    ids.append(response.json()["id"])
        api.close()

    threads = [
        threading.Thread(target=client, args=(number, share))
        for number, share in enumerate(shares)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"statuses": statuses, "ids": ids, "errors": errors[:20]}


def wait_all_final(ctx, ids: list[str], cap_seconds: float) -> bool:
    from runs.models import FINAL_STATUSES, Run

    deadline = time.time() + cap_seconds
    while time.time() < deadline:
        busy = Run.objects.filter(environment=ctx.environment).exclude(
            status__in=FINAL_STATUSES
        )
        if not busy.exists():
            return True
        time.sleep(1)
    return False


def account_runs(environment, accepted: list[str]) -> dict:
    """What became of the accepted runs, from the database."""
    from django.db.models import Count, Max

    from runs.models import Attempt, Run

    runs = Run.objects.filter(environment=environment, task_identifier="bench-noop")
    stored = set(runs.values_list("id", flat=True))
    by_status = dict(runs.values_list("status").annotate(n=Count("id")))
    attempts = Attempt.objects.filter(run__in=runs)
    retried = attempts.values("run").annotate(n=Count("id")).filter(n__gt=1).count()
    return {
        "accepted": len(accepted),
        "duplicate_ids": len(accepted) - len(set(accepted)),
        "stored": len(stored),
        "missing": len(set(accepted) - stored),
        "unanswered": len(stored - set(accepted)),
        "by_status": by_status,
        "completed": by_status.get("COMPLETED", 0),
        "runs_with_several_attempts": retried,
        "overlapping_executions": overlapping_executions(attempts),
        "last_finished_at": (
            runs.aggregate(last=Max("finished_at"))["last"].timestamp()
            if by_status
            else None
        ),
    }


def overlapping_executions(attempts) -> int:
    """Runs with two attempts whose executions overlapped in time (must be 0)."""
    spans: dict[str, list[tuple[datetime, datetime]]] = {}
    for run_id, started, finished in attempts.values_list(
        "run_id", "started_at", "finished_at"
    ):
        spans.setdefault(run_id, []).append((started, finished or datetime.now(UTC)))
    overlapping = 0
    for run_spans in spans.values():
        run_spans.sort()
        if any(b[0] < a[1] for a, b in itertools.pairwise(run_spans)):
            overlapping += 1
    return overlapping
