from django.apps import AppConfig


class ObservabilityConfig(AppConfig):
    name = "observability"
    verbose_name = "Metrics and logs"

    def ready(self) -> None:
        from observability import checks, logs  # noqa: F401 (checks register themselves)

        logs.connect_worker_signals()
