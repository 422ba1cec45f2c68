"""``reference_rnn.testing.items``: a report's checks as test items, each failing alone and saying why.

Made from reports built here (no worker process): the end-to-end runs are
tests/test_testing_plugin.py's.
"""

from __future__ import annotations

import numpy as np
import pytest

from reference_rnn import testing
from reference_rnn.checker.apis.calling import Output
from reference_rnn.checker.evidence import Evidence, first_time_step
from reference_rnn.checker.runner import Check, Report
from reference_rnn.testing import items as testing_items


def _report(
    checks: list[Check], diagnoses: list[testing.Diagnosis], unexplained: list[str]
) -> Report:
    return Report("cs231n", "mine", "float64", checks, diagnoses, [], unexplained)


def test_a_value_names_the_mistake_whose_evidence_it_is_or_every_one_the_run_found():
    first = testing.Diagnosis("missing-bias", Evidence("batch/h", "h", None, None, None, ""), 1)
    second = testing.Diagnosis("no-recurrence", Evidence("long/h", "h", None, None, None, ""), 1)
    checks = [
        Check("batch/h", False, 0.5, 1e-12),
        Check("batch/dWh", False, 0.25, 1e-12),
        Check("step:long/dx", False, None, 1e-12, "the call raised ValueError: no"),
        Check("long/db", True, 0.0, 1e-12),
    ]
    report = _report(checks, [first, second], unexplained=["step:long/dx"])
    values = testing_items._values(report, {"batch/h": 2})
    assert [v.id for v in values] == [
        "cs231n-batch-float64-h",
        "cs231n-batch-float64-dWh",
        "cs231n-step_long-float64-dx",
        "cs231n-long-float64-db",
    ]
    assert [v.mistakes for v in values] == [
        ("missing-bias",),
        ("missing-bias", "no-recurrence"),
        (),
        (),
    ]
    assert values[0].failure().splitlines() == [
        "h of case batch (mine as cs231n, float64): missing-bias",
        "  error 0.5 > tolerance 1e-12 (max|actual - expected| / max|expected|)",
        "  first failing time step: 2",
        "  mistake: missing-bias: " + testing.MISTAKES["missing-bias"],
    ]
    assert values[2].failure().splitlines() == [
        "dx of case step:long (mine as cs231n, float64): no catalogued mistake",
        "  not compared: the call raised ValueError: no",
        "  mistake: none of the catalogued mistakes explains it",
    ]
    assert repr(values[3]) == "<CheckedValue cs231n-long-float64-db: passed>"
    assert str(values[3]) == values[3].id
    values[3].assert_passed()
    with pytest.raises(AssertionError, match=r"^h of case batch"):
        values[0].assert_passed()


def test_the_first_failing_time_step_is_counted_along_the_whole_sequence():
    case = testing.cases()[5]  # batch: (N, T, D, H) with T > 1
    h = case.expected["h"].copy()
    step = first_time_step
    assert step(Output("h", "h", h), case) is None  # nothing fails
    h[:, 2:] += 1.0
    assert step(Output("h", "h", h), case) == 2
    assert step(Output("h", "h", h[:, :1]), case) is None  # another shape: no time step
    assert step(Output("h", "h", None, "raised"), case) is None
    assert step(Output("dWh", "dWh", np.zeros(1)), case) is None  # no time axis
    assert step(Output("h_last", "h", h[:, -1]), case) is None


def test_parametrize_checks_an_object_or_a_target_in_each_dtype(monkeypatch):
    calls = []

    def checked_values(target, **kwargs):
        calls.append((target, kwargs))
        return [testing_items._values(_report([Check("a/h", True, 0.0, 1e-12)], [], []), {})[0]]

    monkeypatch.setattr(testing, "checked_values", checked_values)
    argname, params = testing.parametrize(testing_items, api="cs231n", dtype=["float32", "float64"])
    assert argname == "rnn_check"
    assert [p.id for p in params] == ["cs231n-a-float64-h"]
    target, kwargs = calls[0]
    assert target == "reference_rnn.testing.items"
    assert kwargs["name"] == "reference_rnn.testing.items"
    assert kwargs["dtypes"] == ["float32", "float64"]
    testing.parametrize("pkg.mod", api="sprint", argname="x", timeout=3)
    assert calls[1][0] == "pkg.mod"
    assert calls[1][1]["limits"].timeout == 3
    with pytest.raises(ValueError, match="dtype must be one of"):
        testing.parametrize("pkg.mod", api="cs231n", dtype="float16")  # type: ignore[arg-type]
