"""What waiting on a child run gives back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from triggerkit.errors import TriggerkitError
from triggerkit.models import RunError


class TaskRunFailedError(TriggerkitError):
    """A child run that was waited on did not complete; carries its error."""

    def __init__(self, run_id: str, error: RunError, status: str | None = None) -> None:
        super().__init__(f"Run {run_id} failed: {error.message}")
        self.run_id = run_id
        self.error = error
        self.status = status


@dataclass(frozen=True)
class TaskRunResult:
    """The outcome of a child run: its output when `ok`, else its error."""

    ok: bool
    id: str
    output: Any = None
    error: RunError | None = None
    status: str | None = None

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> TaskRunResult:
        error = record.get("error")
        return cls(
            ok=bool(record.get("ok")),
            id=record["id"],
            output=record.get("output"),
            error=RunError.from_wire(error) if error else None,
            status=record.get("status", "COMPLETED" if record.get("ok") else None),
        )

    def unwrap(self) -> Any:
        """Return the output, or raise TaskRunFailedError with the child's error."""
        if self.ok:
            return self.output
        raise TaskRunFailedError(self.id, self.error or RunError("failed", None, None), self.status)
