"""The alternatives Triggerkit is compared with, each as small as its docs allow.

Every peer runs the same two tasks (`bench.noop` and `bench.stamp`) with one
worker process of concurrency 2, on the same PostgreSQL and Redis. The Celery
peers use Triggerkit's own delivery settings (late acks, prefetch of one), so
the comparison is of what each adds on top of the broker, not of settings.
"""

BENCH_QUEUE = "bench"
CELERY_DELIVERY = {
    "task_acks_late": True,
    "worker_prefetch_multiplier": 1,
    "task_default_queue": BENCH_QUEUE,
    "broker_connection_retry_on_startup": True,
    "worker_hijack_root_logger": False,
}
