"""Benchmarks of issue 9: Triggerkit beside Celery, Celery + django-celery-results and
Procrastinate, on the same machine in one run. `python -m bench`; see README.md."""

SCENARIOS = (
    "queries",
    "trigger",
    "payloads",
    "compare",
    "delayed",
    "fanout",
    "fairness",
    "load",
    "profiles",
    "list",
    "indexes",
)
