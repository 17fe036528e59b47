from django.apps import AppConfig


class RunsConfig(AppConfig):
    name = "runs"
    verbose_name = "Tasks and runs"

    def ready(self) -> None:
        # Registers the object-store system check (triggerkit.E001).
        from runs import storage  # noqa: F401
