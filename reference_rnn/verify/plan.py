"""Planning and running the verification report: every check, run where you can watch it."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from types import ModuleType
from typing import Any

import numpy as np

from reference_rnn import oracles
from reference_rnn.core.measure import FD_TOLERANCE, TOLERANCE, scaled_error
from reference_rnn.core.sample import documented_sample
from reference_rnn.layers.simple_rnn import SimpleRNN
from reference_rnn.verify import training_rows
from reference_rnn.verify.cases import CoreCase, RNNCase, finite_difference_error, oracle_error
from reference_rnn.verify.golden import check_golden, golden_paths, load_case
from reference_rnn.verify.rows import Planned, Row, Verification
from reference_rnn.verify.suite import (
    CELL_CASES,
    FD_CELL_CASES,
    FD_CORE_CASES,
    FD_RNN_CASES,
    PARITY_CASES,
)

#: Half a unit in the last place that the exercise prints.
SAMPLE_TOLERANCE = 5e-9
#: float64's machine epsilon: the unit of the accuracy table.
EPS = float(np.finfo(np.float64).eps)
#: The float64 implementations the accuracy table sets beside ours, where installed.
ACCURACY_PEERS = ("torch", "jax")


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


def plan(available: dict[str, ModuleType]) -> Iterator[Planned]:
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
    cases = [*PARITY_CASES, *CELL_CASES]
    given = [case.run()[1] for case in cases] if available else []
    for name, oracle in available.items():
        for case, problem in zip(cases, given, strict=True):
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
    for case in [*FD_RNN_CASES, *FD_CELL_CASES]:
        yield Planned(
            case.name,
            "finite differences",
            "float64",
            FD_TOLERANCE,
            partial(finite_difference_error, case),
        )
    for path in golden_paths():
        try:
            case = load_case(path)
            cell, dtype, tolerance = case.config.cell, case.dtype, TOLERANCE[case.dtype]
        except (ValueError, KeyError):  # the row fails with check_golden's reason
            cell, dtype, tolerance = "RNN", "float64", TOLERANCE["float64"]
        yield Planned(
            f"{cell} {path.stem}", "golden fixture", dtype, tolerance, partial(_golden, path)
        )
    yield from training_rows.planned(available)


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
    checks = list(plan(available))
    for i, planned in enumerate(checks):
        if progress is not None:
            progress(i, len(checks), f"{planned.name} ({planned.against})")
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
        report.accuracy = exact_accuracy([*PARITY_CASES, *CELL_CASES], peers)
    return report
