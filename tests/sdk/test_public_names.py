import triggerkit


def test_the_public_names_are_pinned():
    assert sorted(triggerkit.__all__) == sorted(
        [
            "AbortTaskRunError", "ApiConnectionError", "ApiError", "AuthenticationError",
            "BadRequestError", "Batch", "BatchHandle", "BatchNotSealedError",
            "ConcurrentWaitError", "ConfigurationError", "ConflictError", "InternalServerError", "NotFoundError", "OutsideTaskError",
            "PermissionDeniedError", "PollTimeoutError", "Queue", "RateLimitError", "Retry",
            "Run", "RunError", "RunStatus", "Task", "TaskContext", "TaskRunFailedError",
            "TaskRunResult", "TriggerResult",
            "TriggerkitError", "UnprocessableEntityError", "batch", "configure",
            "idempotency_keys", "metadata", "runs", "schedules", "tags", "task", "tasks",
            "wait",
        ]
    )
    for name in triggerkit.__all__:
        assert getattr(triggerkit, name) is not None


def test_the_sdk_imports_no_django():
    import subprocess
    import sys

    code = "import sys, triggerkit; print(any(m.split('.')[0] in ('django','runs','apikeys') for m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
