"""PNG charts of the results (matplotlib, Agg); skipped with a note when it is missing."""

from __future__ import annotations

from pathlib import Path


def draw(results: dict, out: Path) -> dict[str, str]:
    """Draw what the results allow; return {chart: file name} (and `_skipped` if none)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return {"_skipped": "matplotlib is not installed (pip install -e '.[bench]')"}
    drawn = {}
    for name, function in (
        ("trigger", trigger),
        ("throughput", throughput),
        ("latency", latency),
        ("runs_list", runs_list),
        ("memory", memory),
        ("payloads", payloads),
    ):
        try:
            figure = function(plt, results)
        except (KeyError, TypeError, ValueError, IndexError):
            figure = None
        if figure is None:
            continue
        file_name = f"{name}.png"
        figure.tight_layout()
        figure.savefig(out / file_name, dpi=90)
        plt.close(figure)
        drawn[name] = file_name
    return drawn


def bars(ax, labels, medians, lows, highs, color="#4878a8"):
    errors = [
        [m - lo for m, lo in zip(medians, lows)],
        [hi - m for m, hi in zip(medians, highs)],
    ]
    ax.bar(labels, medians, yerr=errors, capsize=4, color=color)


def spread_of(spread: dict) -> tuple[float, float, float]:
    return spread["median"], spread["min"], spread["max"]


def trigger(plt, results):
    rows = [
        (name, r["trigger"])
        for name, r in results.items()
        if r.get("trigger") and "error" not in r["trigger"]
    ]
    if not rows:
        return None
    figure, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for ax, key, target, title in (
        (axes[0], "single_runs_per_second", 1000, "single triggers, 8 clients"),
        (axes[1], "batch_runs_per_second", 20000, "1,000-item batches"),
    ):
        values = [spread_of(data[key]) for _, data in rows]
        bars(ax, [name for name, _ in rows], *zip(*values))
        ax.axhline(target, color="#c0392b", linestyle="--", label=f"target {target:,}")
        ax.set_title(title)
        ax.set_ylabel("runs/s")
        ax.legend()
    return figure


def compare_rows(results):
    for name, result in results.items():
        data = result.get("compare")
        if data and "error" not in data and len(data["systems"]) > 1:
            return name, data["systems"]
    for name, result in results.items():
        data = result.get("compare")
        if data and "error" not in data:
            return name, data["systems"]
    return None, None


def short(name: str) -> str:
    return name.replace(
        "Celery + django-celery-results", "Celery +\ndj-celery-results"
    ).replace("Celery (no results)", "Celery\n(no results)")


def throughput(plt, results):
    target, systems = compare_rows(results)
    if not systems:
        return None
    figure, ax = plt.subplots(figsize=(7, 3.8))
    values = [spread_of(data["runs_per_second"]) for data in systems.values()]
    bars(ax, [short(name) for name in systems], *zip(*values))
    ax.set_ylabel("no-op runs completed per second")
    ax.set_title(f"End-to-end no-op runs, 1 worker of concurrency 2 ({target})")
    return figure


def latency(plt, results):
    target, systems = compare_rows(results)
    if not systems:
        return None
    import numpy

    figure, ax = plt.subplots(figsize=(7, 3.8))
    positions = numpy.arange(len(systems))
    p50 = [data["start_p50_ms"]["median"] for data in systems.values()]
    p99 = [data["start_p99_ms"]["median"] for data in systems.values()]
    ax.bar(positions - 0.2, p50, 0.4, label="p50", color="#4878a8")
    ax.bar(positions + 0.2, p99, 0.4, label="p99", color="#a8c4e0")
    ax.axhline(10, color="#c0392b", linestyle="--", label="target p50 10 ms")
    ax.axhline(50, color="#e67e22", linestyle=":", label="target p99 50 ms")
    ax.set_xticks(positions, [short(name) for name in systems])
    ax.set_ylabel("ms")
    ax.set_title(f"Trigger-to-start latency, idle ({target})")
    ax.legend()
    return figure


def runs_list(plt, results):
    data = next(
        (
            r["list"]
            for r in results.values()
            if r.get("list") and "error" not in r["list"]
        ),
        None,
    )
    if data is None:
        return None
    labels = [label.replace("status ", "").replace(", ", "\n") for label in data["api"]]
    p95 = [item["latency"]["p95_ms"] for item in data["api"].values()]
    for label, item in data.get("dashboard", {}).get("pages", {}).items():
        labels.append("dashboard: " + label.replace("status ", "").replace(", ", "\n"))
        p95.append(item["latency"]["p95_ms"])
    figure, ax = plt.subplots(figsize=(8, max(4, len(labels) * 0.32)))
    colors = ["#c0392b" if value > 150 else "#4878a8" for value in p95]
    ax.barh(labels, p95, color=colors)
    ax.axvline(150, color="#c0392b", linestyle="--", label="target p95 150 ms")
    ax.invert_yaxis()
    ax.tick_params(axis="y", labelsize=7)
    ax.set_xlabel("p95 ms (loopback round trip)")
    ax.set_title(f"Runs list at {data['seed']['runs']:,} runs")
    ax.legend()
    return figure


def memory(plt, results):
    target, systems = compare_rows(results)
    if not systems:
        return None
    figure, ax = plt.subplots(figsize=(7, 3.8))
    import numpy

    positions = numpy.arange(len(systems))
    idle = [data["idle_largest_rss_mib"]["median"] or 0 for data in systems.values()]
    busy = [data["busy_largest_rss_mib"]["median"] or 0 for data in systems.values()]
    ax.bar(positions - 0.2, idle, 0.4, label="idle", color="#a8c4e0")
    ax.bar(positions + 0.2, busy, 0.4, label="busy", color="#4878a8")
    ax.axhline(200, color="#c0392b", linestyle="--", label="target 200 MB")
    ax.set_xticks(positions, [short(name) for name in systems])
    ax.set_ylabel("largest process RSS, MiB")
    ax.set_title(f"Worker memory ({target})")
    ax.legend()
    return figure


def payloads(plt, results):
    data = next(
        (
            r["payloads"]
            for r in results.values()
            if r.get("payloads") and "error" not in r["payloads"]
        ),
        None,
    )
    if data is None:
        return None
    figure, ax = plt.subplots(figsize=(6, 3.5))
    labels = list(data["sizes"])
    ax.bar(
        labels,
        [item["latency"]["p50_ms"] for item in data["sizes"].values()],
        color="#4878a8",
    )
    ax.set_ylabel("trigger p50, ms")
    ax.set_title("Trigger latency by payload size")
    return figure
