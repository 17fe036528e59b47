"""Running totals behind the run counters of /metrics (see observability.rollup)."""

from __future__ import annotations

from django.db import models

from apikeys.models import Environment


class RunCounter(models.Model):
    """One running total: runs triggered or finished, or a bucket of attempt durations.

    `name` is `triggered` (status empty), `finished` (status = the run's final
    status), or for attempts of finished runs `attempt_bucket` (bucket = the
    upper bound in seconds), `attempt_sum` and `attempt_count`, whose status is
    the attempt's. `bucket` is 0 on rows that are not buckets.
    """

    name = models.CharField(max_length=32)
    environment = models.ForeignKey(Environment, on_delete=models.CASCADE)
    task = models.CharField(max_length=128)
    status = models.CharField(max_length=16, blank=True)
    bucket = models.FloatField(default=0)
    value = models.FloatField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["name", "environment", "task", "status", "bucket"],
                name="run_counter_key",
            )
        ]


class RollupState(models.Model):
    """The single row saying which runs are already in the totals.

    Runs with an id up to `horizon` were counted as triggered; those of them
    still unfinished then wait in PendingRun to be counted as finished.
    """

    horizon = models.CharField(max_length=40)
    advanced_at = models.DateTimeField()


class PendingRun(models.Model):
    """A run counted as triggered whose finish is still to be counted."""

    run_id = models.CharField(primary_key=True, max_length=40)
