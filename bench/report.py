"""docs/benchmarks.md and its charts, from the targets' JSON results."""

from __future__ import annotations

import datetime
from pathlib import Path

from bench import charts

ANALYSIS = Path(__file__).with_name("analysis.md")
SECTIONS = (
    "## Targets of issue 9",
    "## 1. Trigger API",
    "## 2. End-to-end no-op runs",
    "## 3. Trigger-to-start latency",
    "## 4. Delayed runs",
    "## 5. Runs list at",
    "## 6. Memory",
    "## 7. Large payloads",
    "## Fan-out and concurrency-key fairness",
    "## Queries per run",
    "## Profiles of the hot paths",
    "## Query plans and index cost",
)
TARGETS = {
    "single": 1000,
    "batch": 20000,
    "throughput_ratio": 0.8,
    "start_p50": 10,
    "start_p99": 50,
    "delayed_p99": 1000,
    "list_p95": 150,
    "memory": 200,
}


def fmt(value, unit: str = "", digits: int = 0) -> str:
    if value is None:
        return "–"
    if isinstance(value, (int, float)):
        text = f"{value:,.{digits}f}"
    else:
        text = str(value)
    return f"{text}{unit}"


def med(spread: dict | None, unit: str = "", digits: int = 0) -> str:
    """`median (min–max)` of a spread dict."""
    if not spread or spread.get("median") is None:
        return "–"
    text = fmt(spread["median"], unit, digits)
    if spread.get("n", 1) > 1:
        text += f" ({fmt(spread['min'], '', digits)}–{fmt(spread['max'], '', digits)})"
    return text


def value(spread: dict | None):
    return None if not spread else spread.get("median")


def verdict(measured, target, higher_is_better: bool) -> str:
    if measured is None:
        return "not measured"
    met = measured >= target if higher_is_better else measured <= target
    if met:
        return "met"
    return f"missed ({measured / target:.2f}× the target)"


def write(
    results: dict,
    skipped: dict,
    path: Path,
    charts_dir: Path,
    elapsed: float,
    quick: bool,
) -> None:
    drawn = charts.draw(results, charts_dir)
    rel = (
        charts_dir.relative_to(path.parent)
        if charts_dir.is_relative_to(path.parent)
        else charts_dir
    )
    out: list[str] = []
    add = out.append
    machine = results.get("machine", {})
    add("# Benchmarks")
    add("")
    add(
        "Written by `python -m bench` (see the README's *Benchmarks* section) on "
        f"{datetime.date.today().isoformat()}, in {elapsed / 60:.1f} minutes"
        + (
            " in **quick mode** (tiny counts: the numbers mean nothing)."
            if quick
            else "."
        )
    )
    add(
        "Every figure is the median over repeats, with the spread (min–max) in brackets; "
        "ratios between systems are taken within this one run only."
    )
    facts = machine.get("facts") or next(
        (r.get("facts") for r in results.values() if r.get("facts")), {}
    )
    if facts:
        add(
            f"Machine: {facts.get('cores')} cores, {facts.get('memory_gib')} GiB, "
            f"{facts.get('postgres')}, Python {facts.get('python')}; load average at start "
            f"{facts.get('load_average_at_start')}; CPU pressure at start: "
            f"`{facts.get('cpu_pressure_at_start')}`."
        )
    add("")
    for name, reason in skipped.items():
        add(f"- Target *{name}*: {reason}.")
    for name, result in results.items():
        if result.get("rerun"):
            rerun = result["rerun"]
            add(
                f"- Target *{name}*: {', '.join(rerun['scenarios'])} re-run later and merged "
                f"(`--merge`); {', '.join(rerun['kept_from_earlier_run']) or 'nothing'} from the "
                "first run. Ratios between systems all come from one run."
            )
        if result.get("error"):
            add(f"- Target *{name}* failed: {result['error']}.")
        for scenario, timing in result.get("timings", {}).items():
            if isinstance(result.get(scenario), dict) and result[scenario].get("error"):
                add(
                    f"- Target *{name}*, scenario *{scenario}* failed: {result[scenario]['error']}"
                )
    add("")
    targets_table(results, add)
    if ANALYSIS.exists() and not quick:
        add("")
        add(ANALYSIS.read_text().strip())
    for section in (
        trigger_section,
        compare_section,
        latency_section,
        delayed_section,
        list_section,
        memory_section,
        payload_section,
        fanout_section,
        load_section,
        queries_section,
        profile_section,
        plans_section,
    ):
        add("")
        section(results, add, drawn, rel)
    add("")
    add("## Scenario durations and machine load")
    add("")
    add(
        "The machine is shared: other processes (other sessions' test suites included) ran "
        "beside the bench. *CPU pressure* is the kernel's share of time in which runnable "
        "tasks waited for a core (`/proc/pressure/cpu`, some avg10)."
    )
    add("")
    add(
        "| target | scenario | seconds | load average before → after | CPU pressure after |"
    )
    add("| --- | --- | --- | --- | --- |")
    for name, result in results.items():
        for scenario, timing in result.get("timings", {}).items():
            load = timing.get("load_average", ["", ""])
            pressure = timing.get("cpu_pressure_after", "")
            pressure = (
                pressure.split()[1].split("=")[1] + " %"
                if "avg10=" in pressure
                else "–"
            )
            add(
                f"| {name} | {scenario} | {timing['seconds']} | {load[0]} → {load[1]} | {pressure} |"
            )
    path.write_text("\n".join(out) + "\n")


def image(add, drawn: dict, rel, name: str, alt: str) -> None:
    if name in drawn:
        add("")
        add(f"![{alt}]({rel}/{drawn[name]})")
    elif drawn.get("_skipped"):
        add("")
        add(f"*(chart skipped: {drawn['_skipped']})*")


def targets_table(results: dict, add) -> None:
    add("## Targets of issue 9")
    add("")
    add(
        "| figure | target | "
        + " | ".join(results)
        + " | verdict ("
        + next(iter(results), "–")
        + ") |"
    )
    add("| --- | --- | " + " | ".join("---" for _ in results) + " | --- |")
    rows = []

    def row(figure, target_text, getter, target, higher, unit="", digits=0):
        cells, first = [], None
        for result in results.values():
            try:
                spread = getter(result)
            except (KeyError, TypeError, AttributeError):
                spread = None
            cells.append(med(spread, unit, digits))
            if first is None:
                first = value(spread) if spread else None
        rows.append(
            f"| {figure} | {target_text} | "
            + " | ".join(cells)
            + f" | {verdict(first, target, higher)} |"
        )

    row(
        "single triggers over HTTP, 8 clients",
        "≥ 1,000 runs/s",
        lambda r: r["trigger"]["single_runs_per_second"],
        TARGETS["single"],
        True,
        " runs/s",
    )
    row(
        "batch triggers, 1,000 items",
        "≥ 20,000 runs/s",
        lambda r: r["trigger"]["batch_runs_per_second"],
        TARGETS["batch"],
        True,
        " runs/s",
    )
    row(
        "end-to-end no-op runs (1 worker, c=2)",
        "≥ 0.8 × plain Celery",
        lambda r: ratio_spread(r, "Celery (no results)"),
        TARGETS["throughput_ratio"],
        True,
        "×",
        2,
    )
    row(
        "trigger-to-start p50, idle",
        "< 10 ms",
        lambda r: r["compare"]["systems"]["Triggerkit"]["start_p50_ms"],
        TARGETS["start_p50"],
        False,
        " ms",
        1,
    )
    row(
        "trigger-to-start p99, idle",
        "< 50 ms",
        lambda r: r["compare"]["systems"]["Triggerkit"]["start_p99_ms"],
        TARGETS["start_p99"],
        False,
        " ms",
        1,
    )
    row(
        "delayed-run lateness p99 (n due in one second)",
        "< 1 s",
        lambda r: r["delayed"]["start_p99_ms"],
        TARGETS["delayed_p99"],
        False,
        " ms",
    )
    row(
        "`GET /api/v1/runs` p95, worst filter and page, 1M runs",
        "< 150 ms",
        lambda r: worst_list(r, "api"),
        TARGETS["list_p95"],
        False,
        " ms",
        1,
    )
    row(
        "dashboard runs list p95, worst filter and page, 1M runs",
        "< 150 ms",
        lambda r: worst_list(r, "dashboard"),
        TARGETS["list_p95"],
        False,
        " ms",
        1,
    )
    row(
        "worker memory, largest process (busy)",
        "< 200 MB",
        lambda r: r["compare"]["systems"]["Triggerkit"]["busy_largest_rss_mib"],
        TARGETS["memory"],
        False,
        " MiB",
    )
    for line in rows:
        add(line)
    add("")
    add(
        "Queries per run, trigger to completion: see *Queries per run* below (the same count "
        "on an empty table and at one million runs means independent of table size)."
    )
    machine = results.get("machine", {}).get("compare", {}).get("systems", {})
    if machine:
        tk = value(machine.get("Triggerkit", {}).get("runs_per_second"))
        ahead = [
            name
            for name in ("Celery + django-celery-results", "Procrastinate")
            if tk
            and value(machine.get(name, {}).get("runs_per_second"))
            and tk > value(machine[name]["runs_per_second"])
        ]
        add(
            f"Ahead of Celery + django-celery-results and Procrastinate: "
            f"{'yes, both' if len(ahead) == 2 else ('only of ' + ahead[0]) if ahead else 'no'}."
        )


def ratio_spread(result: dict, peer: str) -> dict | None:
    systems = result["compare"]["systems"]
    if peer not in systems:
        return None
    pairs = zip(systems["Triggerkit"]["repeats"], systems[peer]["repeats"])
    ratios = [
        a["throughput"]["runs_per_second"] / b["throughput"]["runs_per_second"]
        for a, b in pairs
    ]
    from bench.stats import spread

    return {**spread(ratios), "median": round(spread(ratios)["median"], 2)}


def worst_list(result: dict, where: str) -> dict | None:
    data = result["list"]
    items = (
        data["api"] if where == "api" else data.get("dashboard", {}).get("pages", {})
    )
    if not items:
        return None
    return {"median": max(item["latency"]["p95_ms"] for item in items.values()), "n": 1}


def trigger_section(results, add, drawn, rel) -> None:
    add("## 1. Trigger API")
    add("")
    add(
        "Single triggers: 8 threads, each with its own keep-alive `httpx` client, post "
        "`POST /api/v1/tasks/bench-noop/trigger` as fast as answers come back; gunicorn "
        "gthread as `manage.py up` runs it. Batch triggers: one client sends 1,000-item "
        "batches one after another (`POST /api/v3/batches`, then the NDJSON items). No "
        "worker runs, so after the first 100 runs the environment's slots are full and each "
        "trigger's dispatch pass ends early."
    )
    add("")
    add(
        "| target | single runs/s | single p50 | single p99 | batch runs/s | batch p50 | batch p99 |"
    )
    add("| --- | --- | --- | --- | --- | --- | --- |")
    for name, result in results.items():
        t = result.get("trigger")
        if not t or t.get("error"):
            continue
        add(
            f"| {name} | {med(t['single_runs_per_second'])} | {med(t['single_p50_ms'], ' ms', 1)} | "
            f"{med(t['single_p99_ms'], ' ms', 1)} | {med(t['batch_runs_per_second'])} | "
            f"{med(t['batch_p50_ms'], ' ms')} | {med(t['batch_p99_ms'], ' ms')} |"
        )
    cpu_table(
        results,
        add,
        "trigger",
        lambda t: [
            ("single triggers", t["repeats"][0]["single"]["cpu_cores"]),
            ("batch triggers", t["repeats"][0]["batch"]["cpu_cores"]),
        ],
    )
    image(add, drawn, rel, "trigger", "trigger throughput")


def cpu_table(results, add, scenario, getter) -> None:
    for name, result in results.items():
        data = result.get(scenario)
        if not data or data.get("error"):
            continue
        try:
            phases = getter(data)
        except (KeyError, IndexError, TypeError):
            continue
        add("")
        add(
            f"CPU used during the first repeat ({name}), in cores (the machine has "
            f"{result.get('facts', {}).get('cores', '?')}; *machine* counts every process, other "
            "sessions' included):"
        )
        add("")
        groups = sorted({group for _, cores in phases for group in cores})
        add("| phase | " + " | ".join(groups) + " |")
        add("| --- | " + " | ".join("---" for _ in groups) + " |")
        for label, cores in phases:
            add(
                f"| {label} | "
                + " | ".join(fmt(cores.get(g), "", 2) for g in groups)
                + " |"
            )


def compare_section(results, add, drawn, rel) -> None:
    add("## 2. End-to-end no-op runs")
    add("")
    add(
        "Each system gets n no-op jobs from its fastest producer (Triggerkit: 1,000-item "
        "batches over HTTP; Celery: `send_task` on one connection; Procrastinate: "
        "`batch_defer` of 1,000) while one worker process of concurrency 2 executes them; "
        "the rate is the completed jobs over the time from the first submission to the last "
        "completion, or to the cap when not all n completed within it. "
        "Only the measured system's worker runs; repeats are interleaved (A B C D, A B C D, …)."
    )
    for name, result in results.items():
        c = result.get("compare")
        if not c or c.get("error"):
            continue
        add("")
        add(
            f"**{name}**, {c['runs']:,} runs or {c.get('cap_seconds', '–')} s, whichever came "
            f"first, {c['repeats']} repeats:"
        )
        add("")
        add(
            "| system | runs/s | vs plain Celery | completed within the cap | submit time (s) |"
        )
        add("| --- | --- | --- | --- | --- |")
        celery = value(
            c["systems"].get("Celery (no results)", {}).get("runs_per_second")
        )
        for system, data in c["systems"].items():
            rate = value(data["runs_per_second"])
            ratio = f"{rate / celery:.2f}×" if celery and rate else "–"
            submit = [r["throughput"]["submit_seconds"] for r in data["repeats"]]
            done = [
                r["throughput"].get("completed", r["throughput"]["runs"])
                for r in data["repeats"]
            ]
            add(
                f"| {system} | {med(data['runs_per_second'])} | {ratio} | "
                f"{min(done):,}–{max(done):,} | {min(submit):.1f}–{max(submit):.1f} |"
            )
        cpu_table(
            {name: result},
            add,
            "compare",
            lambda c: [
                (system, data["repeats"][0]["throughput"]["cpu_cores"])
                for system, data in c["systems"].items()
            ],
        )
    image(add, drawn, rel, "throughput", "end-to-end throughput")


def latency_section(results, add, drawn, rel) -> None:
    add("## 3. Trigger-to-start latency")
    add("")
    add(
        "One stamp task at a time on an idle system (50 ms between triggers): from just before "
        "the producer call to the first line of the task body (it pushes `time.time()` to a "
        "Redis list the bench pops). *ack* is how long the producer call itself took "
        "(Triggerkit: the HTTP trigger, which commits and runs a dispatch pass before answering)."
    )
    for name, result in results.items():
        c = result.get("compare")
        if not c or c.get("error"):
            continue
        add("")
        add(f"**{name}**, {c['latency_samples']} samples × {c['repeats']} repeats:")
        add("")
        add("| system | start p50 | start p99 | ack p50 |")
        add("| --- | --- | --- | --- |")
        for system, data in c["systems"].items():
            add(
                f"| {system} | {med(data['start_p50_ms'], ' ms', 1)} | {med(data['start_p99_ms'], ' ms', 1)} | "
                f"{med(data['ack_p50_ms'], ' ms', 1)} |"
            )
    image(add, drawn, rel, "latency", "trigger-to-start latency")


def delayed_section(results, add, drawn, rel) -> None:
    add("## 4. Delayed runs")
    add("")
    add(
        "n stamp runs triggered in one batch with the same `delay` (an ISO date a few seconds "
        "ahead, on a whole second). Lateness is measured from that second to: the beat tick "
        "that promotes the run to QUEUED, the dispatch pass that gives it a slot, and the "
        "first line of the task body. One worker process of concurrency 2 executes them, "
        "so the last start waits for the runs before it."
    )
    add("")
    add("| target | runs | promoted p99 | dequeued p99 | started p50 | started p99 |")
    add("| --- | --- | --- | --- | --- | --- |")
    for name, result in results.items():
        d = result.get("delayed")
        if not d or d.get("error"):
            continue
        add(
            f"| {name} | {d['runs']:,} | {med(d['promoted_p99_ms'], ' ms', 1)} | {med(d['dequeued_p99_ms'], ' ms')} | "
            f"{med(d['start_p50_ms'], ' ms')} | {med(d['start_p99_ms'], ' ms')} |"
        )


def list_section(results, add, drawn, rel) -> None:
    size = next(
        (
            r["list"]["seed"]["runs"]
            for r in results.values()
            if r.get("list", {}).get("seed")
        ),
        None,
    )
    add(f"## 5. Runs list at {fmt(size)} runs")
    add("")
    add(
        "Runs are seeded with one `INSERT … SELECT generate_series` (indexes rebuilt after) in "
        "one environment: 85 % COMPLETED, 6 % FAILED, 3 % QUEUED, …, ten tasks plus a rare one "
        "(0.1 %), two tags per run (one of 1,000 customers, one of three plans). Each request "
        "is timed at the client over loopback with keep-alive (an upper bound of the server "
        "time); the hundredth page is reached by following `next` cursors (the last page when "
        "the filter has fewer than 100)."
    )
    for name, result in results.items():
        data = result.get("list")
        if not data or data.get("error"):
            continue
        add("")
        add(
            f"**{name}**: seeded in {data['seed']['seconds']} s; {data['requests_each']} requests each."
        )
        add("")
        add("| request | p50 | p95 | max |")
        add("| --- | --- | --- | --- |")
        for label, item in data["api"].items():
            lat = item["latency"]
            flag = " ⚠" if lat["p95_ms"] > TARGETS["list_p95"] else ""
            add(
                f"| `GET /api/v1/runs` {label} | {lat['p50_ms']} ms | {lat['p95_ms']} ms{flag} | {lat['max_ms']} ms |"
            )
        board = data.get("dashboard", {})
        if board.get("rendered"):
            for label, item in board["pages"].items():
                lat = item["latency"]
                flag = " ⚠" if lat["p95_ms"] > TARGETS["list_p95"] else ""
                add(
                    f"| dashboard runs list `{board['path']}` {label} | {lat['p50_ms']} ms | "
                    f"{lat['p95_ms']} ms{flag} | {lat['max_ms']} ms |"
                )
            # The counts per status load after the page (htmx), so they are apart.
            shared = "" if board.get("cache_shared", True) else " (cache not shared: hits)"
            for label, item in board.get("counts", {}).items():
                lat = item["latency"]
                add(
                    f"| dashboard status counts, loaded after the page, `{board['counts_path']}` "
                    f"{label}{shared} | {lat['p50_ms']} ms | {lat['p95_ms']} ms | {lat['max_ms']} ms |"
                )
        else:
            add(
                f"| dashboard runs list | did not render (status {board.get('status')}, "
                f"{board.get('path')}) | | |"
            )
        for item in data.get("explain", []):
            add("")
            add(f"EXPLAIN ANALYZE of the query behind *{item['request']}*:")
            add("")
            add("```")
            add(item["sql"][:600])
            add("")
            add("\n".join(item["plan"][:18]))
            add("```")
    image(add, drawn, rel, "runs_list", "runs list p95")


def memory_section(results, add, drawn, rel) -> None:
    add("## 6. Memory")
    add("")
    add(
        "Resident memory (psutil RSS) of each process of a tree: the Celery main process and "
        "its two prefork children, gunicorn's master and workers. *Largest* is the biggest "
        "single process (the target is per process); USS sums what each process holds alone. "
        "Idle is after warm-up, busy is the peak while it drained the no-op runs."
    )
    add("")
    add(
        "| target | process | idle largest RSS | busy largest RSS | busy tree (main + children RSS) | busy USS sum |"
    )
    add("| --- | --- | --- | --- | --- | --- |")
    for name, result in results.items():
        for system, data in result.get("compare", {}).get("systems", {}).items():
            busy = data["repeats"][0].get("busy_memory") or {}
            add(
                f"| {name} | {system} worker | {med(data['idle_largest_rss_mib'], ' MiB')} | "
                f"{med(data['busy_largest_rss_mib'], ' MiB')} | {busy.get('main_rss_mib', '–')} + "
                f"{busy.get('child_rss_mib', '–')} | {busy.get('total_uss_mib', '–')} MiB |"
            )
        idle = result.get("web_idle_memory") or {}
        busy = (result.get("trigger") or {}).get("web_peak_memory") or {}
        if idle:
            add(
                f"| {name} | Triggerkit web (gunicorn) | {idle.get('largest_rss_mib')} MiB | "
                f"{busy.get('largest_rss_mib', '–')} MiB | {busy.get('main_rss_mib', '–')} + "
                f"{busy.get('child_rss_mib', '–')} | {busy.get('total_uss_mib', '–')} MiB |"
            )
    image(add, drawn, rel, "memory", "memory")


def payload_section(results, add, drawn, rel) -> None:
    add("## 7. Large payloads")
    add("")
    add(
        "Sequential `POST /api/v1/tasks/bench-noop/trigger` with a JSON string payload of the "
        "given encoded size (10 MB is 1 KiB under the 10 MiB limit)."
    )
    for name, result in results.items():
        p = result.get("payloads")
        if not p or p.get("error"):
            continue
        add("")
        add(
            f"**{name}** ({p['requests_per_size']} requests per size; payload storage: {p['storage']}):"
        )
        add("")
        add("| payload | p50 | max | stored |")
        add("| --- | --- | --- | --- |")
        for label, item in p["sizes"].items():
            add(
                f"| {label} | {item['latency']['p50_ms']} ms | {item['latency']['max_ms']} ms | "
                f"{item.get('stored', '–')} |"
            )
    image(add, drawn, rel, "payloads", "payload trigger latency")


def fanout_section(results, add, drawn, rel) -> None:
    add("## Fan-out and concurrency-key fairness")
    for name, result in results.items():
        f = result.get("fanout")
        if f and not f.get("error"):
            add("")
            add(
                f"**{name}**: a parent calls `batch_trigger_and_wait` over {f['children']:,} no-op "
                f"children (one worker, concurrency 2). Wall time from trigger to the parent's "
                f"completion: {med(f['wall_seconds'], ' s', 1)}; the parent's resume latency "
                f"(its next segment's start after the last child finished): {med(f['resume_ms'], ' ms')}."
            )
        k = result.get("fairness")
        if k and not k.get("error"):
            add("")
            add(
                f"**{name}**: one queue with a limit of {k['queue_limit_per_key']} per concurrency key; "
                "a backlog on the key *hot*, then a few runs on each of four cold keys triggered "
                "right after it. A fair dispatcher lets the cold keys finish long before the hot backlog."
            )
            add("")
            add("| key | runs | queue wait p50 | last finished after |")
            add("| --- | --- | --- | --- |")
            for key, item in k["keys"].items():
                add(
                    f"| {key} | {item['runs']} | {item['wait_p50_ms']} ms | {item['last_finished_after_s']} s |"
                )


def load_section(results, add, drawn, rel) -> None:
    add("## Load test: single triggers under execution (issue 8)")
    add("")
    add(
        "8 keep-alive clients share n single triggers (`POST /api/v1/tasks/bench-noop/trigger`) "
        "while two Celery worker processes (concurrency 1 each) and beat execute them. Every "
        "answer is tallied by status; every accepted run is then followed in the database "
        "until it is final. *Missing* are accepted runs the database does not hold, "
        "*unanswered* are runs it holds that no client was told about, *overlapping* are runs "
        "with two executions at the same time."
    )
    add("")
    add(
        "| target | triggers | answers by status | client errors | trigger rate | "
        "completion rate | all final | missing | unanswered | overlapping | several attempts |"
    )
    add("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, result in results.items():
        load = result.get("load")
        if not load or load.get("error"):
            continue
        statuses = ", ".join(
            f"{code}: {n:,}" for code, n in sorted(load["statuses"].items())
        )
        add(
            f"| {name} | {load['triggers']:,} | {statuses} | {len(load['client_errors'])} "
            f"| {load['triggers_per_second']:,} runs/s over {load['trigger_seconds']} s "
            f"| {load['completed_per_second']:,} runs/s ({load['completed']:,} completed "
            f"in {load['completion_seconds']} s) | {'yes' if load['all_final'] else 'no'} "
            f"| {load['missing']} | {load['unanswered']} | {load['overlapping_executions']} "
            f"| {load['runs_with_several_attempts']} |"
        )


def queries_section(results, add, drawn, rel) -> None:
    add("## Queries per run")
    add("")
    add(
        "SQL statements per state change, counted with Django's `CaptureQueriesContext` around "
        "the engine calls as production makes them; each statement is a round trip (BEGIN, "
        "COMMIT and savepoints included). The dispatch pass a call requests runs on commit and is shown on "
        "its own line. *At size* repeats the count with the seeded runs in the table."
    )
    for name, result in results.items():
        q = result.get("queries")
        if not q or q.get("error"):
            continue
        at_size = (result.get("list") or {}).get("queries_at_size") or {}
        size = (result.get("list") or {}).get("seed", {}).get("runs")
        add("")
        add(f"**{name}**:")
        add("")
        add(
            f"| state change | statements (empty table) | of which savepoints | at {fmt(size)} runs |"
        )
        add("| --- | --- | --- | --- |")
        for label, item in q.items():
            add(
                f"| {label} | {item['statements']} | {item['savepoints']} | "
                f"{at_size.get(label, {}).get('statements', '–')} |"
            )
        add("")
        add("<details><summary>The statements</summary>")
        add("")
        for label, item in q.items():
            add(f"*{label}*")
            add("")
            add("```")
            add("\n".join(item["sql"]) or "(none)")
            add("```")
        add("</details>")


def profile_section(results, add, drawn, rel) -> None:
    add("## Profiles of the hot paths")
    add("")
    add(
        "pyinstrument, in-process: the trigger endpoint and the two batch endpoints (1,000 "
        "items) through Django's test client (so no HTTP server), and `runs.worker.execute` of "
        "no-op runs (start, task, complete and the dispatch pass that follows). Share of wall time by where it was spent; the full call "
        "trees are in the text files beside the charts."
    )
    for name, result in results.items():
        p = result.get("profiles")
        if not p or p.get("error"):
            continue
        for path, data in p.items():
            add("")
            add(
                f"**{name}, {path}**: {data['ms_per_call']} ms per call over {data['calls']} calls "
                f"([call tree]({rel}/{data['file']}))."
            )
            add("")
            add("| where | share of time |")
            add("| --- | --- |")
            for label, share in data["shares_percent"].items():
                add(f"| {label} | {share} % |")


def plans_section(results, add, drawn, rel) -> None:
    add("## Query plans and index cost")
    add("")
    add(
        "`tests/test_query_plans.py` checks, with 300,000 queued runs, that the dispatcher's "
        "lane walk and pick, the claim, and the API list (with and without status/task "
        "filters) plan as index scans with no Sort and no Seq Scan over `runs_run`."
    )
    for name, result in results.items():
        i = result.get("indexes")
        if not i or i.get("error"):
            continue
        add("")
        if "all" not in i:
            continue
        add(
            f"**{name}**: `runs_run` carries {i['all']['indexes']} indexes, "
            f"{len(i['redundant'])} of them made redundant by others. Single-row INSERTs (what a "
            f"trigger does), alternating between two copies of the table, {i['rows']:,} rows each:"
        )
        add("")
        add("| copy of runs_run | indexes | INSERT median | index bytes per row |")
        add("| --- | --- | --- | --- |")
        for label, key in (
            ("as migrated", "all"),
            ("without the redundant ones", "lean"),
        ):
            add(
                f"| {label} | {i[key]['indexes']} | {i[key]['insert_ms_median']} ms | "
                f"{i[key]['index_bytes_per_row']:,} |"
            )
        add("")
        add("| index | why it is redundant |")
        add("| --- | --- |")
        for item in i["redundant"]:
            add(
                f"| `{item['definition'].split(' ON ')[0].replace('CREATE INDEX ', '')}` "
                f"`{item['definition'].split(' USING ')[1]}` | {item['reason']} |"
            )
