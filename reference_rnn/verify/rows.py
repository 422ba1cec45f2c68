"""The verification report's row types: a planned check, its result, and the whole report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Row:
    """One row of the report."""

    name: str
    #: "documented sample", "finite differences", "golden fixture", "statistics", "definition"
    #: or an oracle's name
    against: str
    dtype: str
    max_error: float | None  # None when the check could not run to the end (see error)
    tolerance: float
    error: str | None = None
    #: why ``against`` is known to differ from torch's semantics here; the row is then neither
    #: a pass nor a failure, and ``max_error`` is the measured evidence
    known_difference: str | None = None

    @property
    def passed(self) -> bool:
        return self.max_error is not None and self.max_error <= self.tolerance

    @property
    def status(self) -> str:
        """``pass``, ``FAIL`` or ``known difference``."""
        if self.known_difference is not None and self.error is None:
            return "known difference"
        return "pass" if self.passed else "FAIL"


@dataclass
class Verification:
    """Every check that ran, the versions of the oracles, and why any oracle did not run."""

    checks: list[Row] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)  # oracle -> its framework's version
    skipped: dict[str, str] = field(default_factory=dict)  # oracle -> why it did not run
    accuracy: list[dict[str, Any]] = field(default_factory=list)  # exact_accuracy's rows

    @property
    def passed(self) -> bool:
        counted = [check for check in self.checks if check.status != "known difference"]
        return bool(counted) and all(check.passed for check in counted)

    def to_json(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "numpy_version": np.__version__,
            "versions": self.versions,
            "checks": [
                asdict(check) | {"passed": check.passed, "status": check.status}
                for check in self.checks
            ],
            "skipped": [
                {"against": name, "reason": reason} for name, reason in self.skipped.items()
            ],
            "accuracy": self.accuracy,
        }


@dataclass(frozen=True)
class Planned:
    """A check to run: its row's fields and how to measure its error."""

    name: str
    against: str
    dtype: str
    tolerance: float
    measure: Callable[[], float]
    known_difference: str | None = None
