from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = "Alerts"

    def ready(self) -> None:
        # Registers the `triggerkit.send_alert` Celery task in every process.
        from alerts import tasks  # noqa: F401
