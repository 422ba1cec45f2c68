"""The verification report: every check this package makes of itself, run where you can watch it.

    python -m reference_rnn verify [--json] [--against torch,jax,...]

Each row is one comparison, with its measured error and its tolerance, against one of:

- documented sample: the exercise's own lines print the exercise's documented numbers;
- an oracle (:mod:`reference_rnn.oracles`): torch, JAX, Keras, onnxruntime, the ONNX reference
  evaluator and exact arithmetic, each built from the same raw arrays with its framework's own API;
  the functional core, SimpleRNN and RNN's options, float64 and float32, outputs and every
  gradient the framework gives, with an arbitrary upstream gradient;
- finite differences: central differences in float64, independent of every framework;
- golden fixture: torch's results recorded on disk, so this part runs without torch;
- the training parts (:mod:`reference_rnn.verify.training_rows`): the optimizers, clipping, truncated
  BPTT and a classifier's training steps against torch; the initializers against their laws
  (statistics) and against what holds exactly (definition).

An oracle whose framework is not installed is skipped, and the report says so and why. Where an
oracle is known to disagree with torch's documented semantics, its row shows the measured
difference as a known difference, with the reason; it is neither a pass nor a failure.

When exact arithmetic runs, the report ends with each float64 implementation's error against it
(ours, torch's, JAX's) in units of float64 eps, case by case (:func:`exact_accuracy`).
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from types import ModuleType
from typing import Any, TextIO

import numpy as np

from reference_rnn import oracles
from reference_rnn.core.functional import Nonlinearity
from reference_rnn.core.measure import FD_TOLERANCE, TOLERANCE, scaled_error
from reference_rnn.core.sample import documented_sample
from reference_rnn.layers.simple_rnn import SimpleRNN
from reference_rnn.verify.cases import CoreCase, RNNCase, finite_difference_error, oracle_error
from reference_rnn.verify.golden import check_golden, golden_paths, load_case

__all__ = [
    "Row",
    "Verification",
    "add_arguments",
    "command",
    "exact_accuracy",
    "format_table",
    "per_source",
    "run",
    "summary",
]

DTYPES = ("float64", "float32")
#: Half a unit in the last place that the exercise prints.
SAMPLE_TOLERANCE = 5e-9
#: float64's machine epsilon: the unit of the accuracy table.
EPS = float(np.finfo(np.float64).eps)
#: The float64 implementations the accuracy table sets beside ours, where installed.
ACCURACY_PEERS = ("torch", "jax")


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
    RNNCase(
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
    RNNCase(
        "RNN 2 layers bidirectional, lengths",
        {"input_size": 3, "hidden_size": 4, "num_layers": 2, "bidirectional": True},
        lengths=(5, 2, 4),
    ),
    RNNCase(
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


def _golden(path: Any) -> float:
    return check_golden(path)[1]


PARITY_CASES: list[RNNCase | CoreCase] = [*CORE_CASES, *RNN_CASES]


@dataclass(frozen=True)
class Planned:
    """A check to run: its row's fields and how to measure its error."""

    name: str
    against: str
    dtype: str
    tolerance: float
    measure: Callable[[], float]
    known_difference: str | None = None


def _plan(available: dict[str, ModuleType]) -> Iterator[Planned]:
    """Every check, with the oracles in ``available`` (name -> oracle module)."""
    yield Planned(
        "SimpleRNN: the exercise's print(rnn.forward(x, h)[-1])",
        "documented sample",
        "float64",
        SAMPLE_TOLERANCE,
        _sample_printed,
    )
    yield Planned(
        "SimpleRNN: every state of the sample",
        "golden fixture",
        "float64",
        TOLERANCE["float64"],
        _sample_states,
    )
    # the problem each oracle is given: with the dropout masks that our run draws
    given = [case.run()[1] for case in PARITY_CASES] if available else []
    for name, oracle in available.items():
        for case, problem in zip(PARITY_CASES, given, strict=True):
            if oracle.unsupported(problem) is None:
                yield Planned(
                    case.name,
                    name,
                    case.dtype,
                    TOLERANCE[case.dtype],
                    partial(oracle_error, case, oracle),
                    oracle.known_difference(problem),
                )
    for core in FD_CORE_CASES:
        yield Planned(
            core.name, "finite differences", "float64", FD_TOLERANCE, core.finite_difference_error
        )
    for case in FD_RNN_CASES:
        yield Planned(
            case.name,
            "finite differences",
            "float64",
            FD_TOLERANCE,
            partial(finite_difference_error, case),
        )
    for path in golden_paths():
        golden = load_case(path)
        yield Planned(
            f"RNN {path.stem}",
            "golden fixture",
            golden.dtype,
            TOLERANCE[golden.dtype],
            partial(_golden, path),
        )
    # imported here, not above: training_checks builds its rows with Planned from this module
    from reference_rnn.verify import training_rows as training_checks  # noqa: PLC0415

    yield from training_checks.planned(available)


def exact_accuracy(
    cases: Sequence[RNNCase | CoreCase], implementations: Mapping[str, ModuleType]
) -> list[dict[str, Any]]:
    """Each float64 implementation's error against exact arithmetic, in float64 eps.

    One row per case of ``cases`` that the exact oracle runs: ``{"case": name, "reference_rnn":
    eps, <name>: eps for each of implementations}``, where eps is the worst over the outputs and
    every gradient of ``max|a - e| / max|e|`` (``e`` exact, correctly rounded) divided by
    :data:`EPS`. ``implementations`` maps names to oracle modules; one that raises gets None (its
    failed checks say why).
    """
    exact = oracles.load("exact")
    rows = []
    for case in cases:
        if exact.unsupported(case.problem()) is None:
            ours, problem = case.run()  # with dropout, every implementation gets our masks
            truth = case.expected(exact.run(problem))
            row: dict[str, Any] = {"case": case.name, "reference_rnn": _in_eps(ours, truth)}
            for name, oracle in implementations.items():
                try:
                    row[name] = _in_eps(case.expected(oracle.run(problem)), truth)
                except Exception:  # noqa: BLE001
                    row[name] = None
            rows.append(row)
    return rows


def _in_eps(results: Mapping[str, Any], truth: Mapping[str, Any]) -> float:
    return max(scaled_error(results[name], truth[name]) for name in truth) / EPS


def run(
    progress: Callable[[int, int, str], None] | None = None,
    against: Sequence[str] | None = None,
) -> Verification:
    """Run every check; ``progress(i, n, name)`` is called before each.

    ``against`` names the oracles to run (default: all of :data:`reference_rnn.oracles.ORACLES`);
    those whose framework is not installed are skipped, with the reason.
    """
    report = Verification()
    available: dict[str, ModuleType] = {}
    for name in oracles.ORACLES if against is None else against:
        try:
            oracle = oracles.load(name)
            report.versions[name] = oracle.version()
        except ImportError as exc:
            report.skipped[name] = str(exc)
        else:
            available[name] = oracle
    plan = list(_plan(available))
    for i, planned in enumerate(plan):
        if progress is not None:
            progress(i, len(plan), f"{planned.name} ({planned.against})")
        try:
            error: float | None = planned.measure()
            message = None
        except Exception as exc:  # noqa: BLE001  (a check that crashes is a failed check)
            error, message = None, f"{type(exc).__name__}: {exc}"
        if error is not None and math.isnan(error):
            error, message = None, "the error is NaN"
        report.checks.append(
            Row(
                planned.name,
                planned.against,
                planned.dtype,
                error,
                planned.tolerance,
                message,
                planned.known_difference,
            )
        )
    if "exact" in available:
        peers = {name: available[name] for name in ACCURACY_PEERS if name in available}
        report.accuracy = exact_accuracy(PARITY_CASES, peers)
    return report


# -- how it is shown --------------------------------------------------------------------------


def _result(check: Row) -> str:
    if check.status == "known difference":
        return f"known difference: {check.known_difference}"
    if check.passed:
        return "pass"
    return f"FAIL{': ' + check.error if check.error else ''}"


def format_table(report: Verification) -> str:
    """The report as an aligned text table, a summary row per source, and a one-line summary."""
    header = ("check", "against", "dtype", "max error", "tolerance", "result")
    rows = [
        (
            check.name,
            check.against,
            check.dtype,
            "-" if check.max_error is None else f"{check.max_error:.1e}",
            f"{check.tolerance:.0e}",
            _result(check),
        )
        for check in report.checks
    ]
    rows += [
        (f"every {name} check", name, "-", "-", "-", f"SKIPPED: {reason}")
        for name, reason in report.skipped.items()
    ]
    summary_rows = [
        (f"{source}: {line}", "", "", "", "", "") for source, line in per_source(report).items()
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]

    def render(row: tuple[str, ...]) -> str:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        return "  ".join([*cells, row[-1]]).rstrip()

    lines = [render(row) for row in [header, *rows]]
    rule = "-" * len(lines[0])
    lines.insert(1, rule)
    return "\n".join(
        [
            *lines,
            rule,
            *(row[0] for row in summary_rows),
            *_accuracy_lines(report.accuracy),
            "",
            summary(report),
        ]
    )


def _accuracy_lines(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The accuracy table after a blank line: a title, a header and a row per case."""
    if not rows:
        return []
    names = [name for name in rows[0] if name != "case"]
    table = [("case", *names)] + [
        (row["case"], *("-" if row[name] is None else f"{row[name]:.1f}" for name in names))
        for row in rows
    ]
    widths = [max(len(cells[i]) for cells in table) for i in range(len(names) + 1)]
    title = (
        "Error against exact arithmetic, in float64 eps of the values' scale "
        "(max|a - e| / max|e| / eps, the worst of the outputs and every gradient):"
    )
    rendered = [
        "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()
        for cells in table
    ]
    return ["", title, *rendered]


def per_source(report: Verification) -> dict[str, str]:
    """For each source of evidence: its version, how many checks passed, the worst error."""
    lines: dict[str, str] = {}
    for source in dict.fromkeys(check.against for check in report.checks):
        checks = [check for check in report.checks if check.against == source]
        counted = [check for check in checks if check.status != "known difference"]
        errors = [check.max_error for check in counted if check.max_error is not None]
        version = f" {report.versions[source]}" if source in report.versions else ""
        line = f"{sum(check.passed for check in counted)} of {len(counted)} passed"
        if errors:
            line += f", worst error {max(errors):.1e}"
        known = len(checks) - len(counted)
        if known:
            line += f", {known} known difference{'s' * (known > 1)}"
        lines[f"{source}{version}"] = line
    return lines


def summary(report: Verification) -> str:
    """One line: passed or failed, the counts, the versions and anything skipped."""
    counted = [check for check in report.checks if check.status != "known difference"]
    passed = sum(check.passed for check in counted)
    kinds = {check.against: 0 for check in counted}
    for check in counted:
        kinds[check.against] += 1
    counts = ", ".join(f"{n} against {kind}" for kind, n in kinds.items())
    known = len(report.checks) - len(counted)
    versions = ", ".join(f"{name} {version}" for name, version in report.versions.items())
    line = (
        f"{'PASSED' if report.passed else 'FAILED'}: {passed} of {len(counted)} checks "
        f"passed ({counts}); {known} known differences; numpy {np.__version__}"
        + (f", {versions}" if versions else "")
    )
    if report.skipped:
        line += f"; SKIPPED: {', '.join(report.skipped)} (not installed)"
    return line


def progress_to(stream: TextIO) -> Callable[[int, int, str], None] | None:
    """A one-line progress display on a terminal; nothing when piped."""
    if not stream.isatty():
        return None

    def show(i: int, n: int, name: str) -> None:
        stream.write(f"\r\033[K[{i + 1}/{n}] {name}")
        stream.flush()

    return show


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``verify``'s options."""
    parser.add_argument("--json", action="store_true", help="print one JSON document instead")
    parser.add_argument(
        "--against",
        type=_oracle_names,
        default=None,
        metavar="NAMES",
        help=f"comma-separated oracles to run (default: all of {', '.join(oracles.ORACLES)})",
    )
    parser.add_argument(
        "--html",
        metavar="PATH",
        default=None,
        help="also write one self-contained HTML page with plots (needs the [report] extra)",
    )


def _oracle_names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in oracles.ORACLES]
    if unknown or not names:
        msg = f"unknown oracle(s) {unknown or [text]}; choose from {', '.join(oracles.ORACLES)}"
        raise argparse.ArgumentTypeError(msg)
    return names


def command(args: argparse.Namespace) -> int:
    """Run the report and print it; 0 only when every check passes."""
    html = None if args.html is None else importlib.import_module("reference_rnn.verify.html")
    if html is not None:
        try:  # before the checks run, not minutes later
            html.require_matplotlib()
        except ImportError as exc:
            print(f"verify --html: {exc}", file=sys.stderr)  # noqa: T201
            return 2
    report = run(progress=progress_to(sys.stderr), against=args.against)
    if sys.stderr.isatty():
        sys.stderr.write("\r\033[K")
    if args.json:
        print(json.dumps(report.to_json(), indent=2))  # noqa: T201
    else:
        print(format_table(report))  # noqa: T201
    if html is not None:
        html.write(report, args.html, html.measure_drift())
    return 0 if report.passed else 1
