"""Run Django's background tasks (DEP 14) as Triggerkit runs.

    TASKS = {"default": {"BACKEND": "triggerkit_django.backend.TriggerkitBackend"}}

See docs/django-tasks.md.
"""
