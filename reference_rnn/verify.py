"""The verification report: every check this package makes of itself, run where you can watch it.

    python -m reference_rnn verify [--json]

Four kinds of evidence, each a row with its measured error and its tolerance:

- documented sample: the exercise's own lines print the exercise's documented numbers;
- torch: the functional core, SimpleRNN and RNN's options against torch with identical weights,
  float64 and float32, outputs and every gradient, with an arbitrary upstream gradient;
- finite differences: central differences in float64, independent of torch;
- golden fixture: torch's results recorded on disk, so this part runs without torch.

Without torch, the torch rows are skipped, and the report says so and why.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any, TextIO

import numpy as np

from reference_rnn.cases import Case, CoreCase, finite_difference_error, run_ours, run_torch
from reference_rnn.compare import FD_TOLERANCE, TOLERANCE, scaled_error
from reference_rnn.functional import Nonlinearity
from reference_rnn.golden import check_golden, documented_sample, golden_paths, load_case
from reference_rnn.simple_rnn import SimpleRNN
from reference_rnn.torch_reference import import_torch

__all__ = ["Check", "Report", "format_table", "main", "run", "summary"]

DTYPES = ("float64", "float32")
#: Half a unit in the last place that the exercise prints.
SAMPLE_TOLERANCE = 5e-9


@dataclass(frozen=True)
class Check:
    """One row of the report."""

    name: str
    against: str  # "documented sample", "torch", "finite differences" or "golden fixture"
    dtype: str
    max_error: float | None  # None when the check could not run to the end (see error)
    tolerance: float
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.max_error is not None and self.max_error <= self.tolerance


@dataclass
class Report:
    """Every check that ran, and why the torch checks did not, if they did not."""

    checks: list[Check] = field(default_factory=list)
    torch_version: str | None = None
    torch_skipped: str | None = None

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(check.passed for check in self.checks)

    def to_json(self) -> dict[str, Any]:
        skipped = (
            []
            if self.torch_skipped is None
            else [{"against": "torch", "reason": self.torch_skipped}]
        )
        return {
            "passed": self.passed,
            "numpy_version": np.__version__,
            "torch_version": self.torch_version,
            "checks": [asdict(check) | {"passed": check.passed} for check in self.checks],
            "skipped": skipped,
        }


# -- what is checked --------------------------------------------------------------------------

NONLINEARITIES: tuple[Nonlinearity, ...] = ("tanh", "relu")
# nonlinearity, h0 all zero, (N, T, D, H)
_SEQUENCES: list[tuple[Nonlinearity, bool, tuple[int, int, int, int]]] = [
    ("tanh", True, (1, 3, 2, 4)),
    ("tanh", False, (4, 7, 5, 9)),
    ("relu", True, (3, 5, 4, 6)),
    ("relu", False, (2, 11, 3, 8)),
]

CORE_CASES = [
    *(
        CoreCase(f"rnn_step_forward/backward {nl}", "step", nonlinearity=nl, dtype=dtype)
        for nl in NONLINEARITIES
        for dtype in DTYPES
    ),
    *(
        CoreCase(
            f"rnn_forward/backward {nl}, h0 {'zero' if zero_h0 else 'random'}",
            "sequence",
            nonlinearity=nl,
            dtype=dtype,
            zero_h0=zero_h0,
            N=N,
            T=T,
            D=D,
            H=H,
        )
        for nl, zero_h0, (N, T, D, H) in _SEQUENCES
        for dtype in DTYPES
    ),
    *(CoreCase("SimpleRNN final state", "simple", dtype=dtype) for dtype in DTYPES),
    *(
        CoreCase("SimpleRNN return_sequences=True", "simple_sequences", dtype=dtype)
        for dtype in DTYPES
    ),
]

_RNN_CONFIGS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("1 layer tanh", {}, {}),
    ("1 layer relu, batch_first", {"nonlinearity": "relu", "batch_first": True}, {}),
    ("1 layer, hx=None", {}, {"hx": False}),
    ("2 layers, no bias", {"num_layers": 2, "bias": False}, {}),
    ("3 layers relu", {"num_layers": 3, "nonlinearity": "relu"}, {}),
    ("bidirectional", {"bidirectional": True}, {}),
    (
        "2 layers bidirectional, batch_first",
        {"num_layers": 2, "bidirectional": True, "batch_first": True},
        {},
    ),
    (
        "unbatched, 2 layers bidirectional",
        {"num_layers": 2, "bidirectional": True},
        {"unbatched": True},
    ),
    ("lengths (unsorted)", {}, {"N": 4, "T": 6, "lengths": (3, 6, 1, 4)}),
    (
        "lengths, 2 layers bidirectional relu",
        {"num_layers": 2, "bidirectional": True, "nonlinearity": "relu"},
        {"N": 4, "T": 6, "lengths": (2, 6, 5, 1)},
    ),
    (
        "dropout 0.4 in training, 3 layers bidirectional",
        {"num_layers": 3, "dropout": 0.4, "bidirectional": True},
        {"training": True},
    ),
    ("dropout 0.4 in eval, 2 layers", {"num_layers": 2, "dropout": 0.4}, {}),
]

RNN_CASES = [
    Case(
        f"RNN {label}", {"input_size": 4, "hidden_size": 5} | options, dtype=dtype, seed=i, **shape
    )
    for i, (label, options, shape) in enumerate(_RNN_CONFIGS)
    for dtype in DTYPES
]

FD_CORE_CASES = [
    CoreCase("rnn_step_forward/backward tanh", "step"),
    CoreCase("rnn_forward/backward tanh", "sequence"),
    CoreCase("rnn_forward/backward relu", "sequence", nonlinearity="relu", seed=1),
    CoreCase("SimpleRNN final state", "simple"),
]
FD_RNN_CASES = [
    Case(
        "RNN 2 layers bidirectional, lengths",
        {"input_size": 3, "hidden_size": 4, "num_layers": 2, "bidirectional": True},
        lengths=(5, 2, 4),
    ),
    Case(
        "RNN unbatched relu, no bias, 2 layers",
        {"input_size": 3, "hidden_size": 4, "num_layers": 2, "nonlinearity": "relu", "bias": False},
        unbatched=True,
    ),
]


def _sample_printed() -> float:
    """The exercise's own lines, against the numbers it documents."""
    s = documented_sample()
    rnn = SimpleRNN(s["w_x"], s["w_h"], s["b"])
    documented = np.array(s["printed"].strip("[]").split(), dtype=np.float64)
    return float(np.abs(rnn.forward(s["x"], s["h"])[-1] - documented).max())


def _sample_states() -> float:
    """Every state of the sample, against torch's, recorded."""
    s = documented_sample()
    states = SimpleRNN(s["w_x"], s["w_h"], s["b"], return_sequences=True).forward(s["x"], s["h"])
    return scaled_error(states, s["torch_states"])


def _vs_torch(case: Case | CoreCase) -> float:
    """The worst scaled error of any output or gradient against torch's."""
    if isinstance(case, CoreCase):
        ours, theirs = case.run_ours(), case.run_torch()
    else:
        rnn, inputs = case.build()
        ours = run_ours(rnn, inputs)  # first: torch replays this forward's dropout masks
        theirs = run_torch(rnn, inputs)
    return max(scaled_error(ours[name], theirs[name]) for name in theirs)


def _golden(path: Any) -> float:
    return check_golden(path)[1]


Planned = tuple[str, str, str, float, Callable[[], float]]


def _plan(with_torch: bool) -> Iterator[Planned]:
    """Every check: name, against, dtype, tolerance and how to measure its error."""
    yield (
        "SimpleRNN: the exercise's print(rnn.forward(x, h)[-1])",
        "documented sample",
        "float64",
        SAMPLE_TOLERANCE,
        _sample_printed,
    )
    yield (
        "SimpleRNN: every state of the sample",
        "golden fixture",
        "float64",
        TOLERANCE["float64"],
        _sample_states,
    )
    if with_torch:
        for core in CORE_CASES:
            yield core.name, "torch", core.dtype, TOLERANCE[core.dtype], partial(_vs_torch, core)
        for case in RNN_CASES:
            yield case.name, "torch", case.dtype, TOLERANCE[case.dtype], partial(_vs_torch, case)
    for core in FD_CORE_CASES:
        yield core.name, "finite differences", "float64", FD_TOLERANCE, core.finite_difference_error
    for case in FD_RNN_CASES:
        yield (
            case.name,
            "finite differences",
            "float64",
            FD_TOLERANCE,
            partial(finite_difference_error, case),
        )
    for path in golden_paths():
        case = load_case(path)
        yield (
            f"RNN {path.stem}",
            "golden fixture",
            case.dtype,
            TOLERANCE[case.dtype],
            partial(_golden, path),
        )


def run(progress: Callable[[int, int, str], None] | None = None) -> Report:
    """Run every check; ``progress(i, n, name)`` is called before each."""
    report = Report()
    try:
        report.torch_version = import_torch().__version__
    except ImportError as exc:
        report.torch_skipped = str(exc)
    plan = list(_plan(with_torch=report.torch_version is not None))
    for i, (name, against, dtype, tolerance, measure) in enumerate(plan):
        if progress is not None:
            progress(i, len(plan), name)
        try:
            error: float | None = measure()
            message = None
        except Exception as exc:  # noqa: BLE001  (a check that crashes is a failed check)
            error, message = None, f"{type(exc).__name__}: {exc}"
        if error is not None and math.isnan(error):
            error, message = None, "the error is NaN"
        report.checks.append(Check(name, against, dtype, error, tolerance, message))
    return report


# -- how it is shown --------------------------------------------------------------------------


def format_table(report: Report) -> str:
    """The report as an aligned text table and a one-line summary."""
    header = ("check", "against", "dtype", "max error", "tolerance", "result")
    rows = [
        (
            check.name,
            check.against,
            check.dtype,
            "-" if check.max_error is None else f"{check.max_error:.1e}",
            f"{check.tolerance:.0e}",
            "pass" if check.passed else f"FAIL{': ' + check.error if check.error else ''}",
        )
        for check in report.checks
    ]
    if report.torch_skipped is not None:
        rows.append(
            ("every torch check", "torch", "-", "-", "-", "SKIPPED: " + report.torch_skipped)
        )
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
    lines = [
        "  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[-1]])
        for row in [header, *rows]
    ]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join([*lines, "", summary(report)])


def summary(report: Report) -> str:
    """One line: passed or failed, the counts, the versions and anything skipped."""
    passed = sum(check.passed for check in report.checks)
    kinds = {check.against: 0 for check in report.checks}
    for check in report.checks:
        kinds[check.against] += 1
    counts = ", ".join(f"{n} against {kind}" for kind, n in kinds.items())
    torch = f"torch {report.torch_version}" if report.torch_version else "no torch"
    line = (
        f"{'PASSED' if report.passed else 'FAILED'}: {passed} of {len(report.checks)} checks "
        f"passed ({counts}); numpy {np.__version__}, {torch}"
    )
    if report.torch_skipped is not None:
        line += f"; the torch checks were SKIPPED: {report.torch_skipped}"
    return line


def _progress_to(stream: TextIO) -> Callable[[int, int, str], None] | None:
    """A one-line progress display on a terminal; nothing when piped."""
    if not stream.isatty():
        return None

    def show(i: int, n: int, name: str) -> None:
        stream.write(f"\r\033[K[{i + 1}/{n}] {name}")
        stream.flush()

    return show


def main(argv: list[str] | None = None) -> int:
    """``reference-rnn [verify] [--json]``: exit 0 only when every check passes."""
    parser = argparse.ArgumentParser(
        prog="reference-rnn",
        description="Run every check of reference_rnn and print the verification report.",
    )
    parser.add_argument(
        "command",
        nargs="?",
        choices=["verify"],
        default="verify",
        help="verify (the default): the verification report",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document instead")
    args = parser.parse_args(argv)
    report = run(progress=_progress_to(sys.stderr))
    if sys.stderr.isatty():
        sys.stderr.write("\r\033[K")
    if args.json:
        print(json.dumps(report.to_json(), indent=2))  # noqa: T201
    else:
        print(format_table(report))  # noqa: T201
    return 0 if report.passed else 1
