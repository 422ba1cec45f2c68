"""``reference_rnn.testing.items``: a report's checks as test items, each failing alone and saying why.

Made from reports built here (no worker process): the end-to-end runs are
tests/test_testing_plugin.py's.
"""

from __future__ import annotations

import numpy as np
import pytest

from reference_rnn import testing
from reference_rnn.checker.apis import made_by
from reference_rnn.checker.apis.calling import Output
from reference_rnn.checker.evidence import Evidence, first_time_step
from reference_rnn.checker.runner import Check, Report
from reference_rnn.testing import items as testing_items


def _report(
    checks: list[Check], diagnoses: list[testing.Diagnosis], unexplained: list[str]
) -> Report:
    return Report("cs231n", "mine", "float64", checks, diagnoses, [], unexplained)


def test_a_value_names_the_function_and_the_mistake_whose_evidence_it_is_or_every_one_found():
    def check(function, value, case, passed, error, detail=None):
        return Check.of(
            function, value, case, passed=passed, error=error, tolerance=1e-12, detail=detail
        )

    h = "rnn_forward: h of case batch"
    first = testing.Diagnosis("missing-bias", Evidence(h, "h", None, None, None, ""), 1)
    long_h = "rnn_forward: h of case long"
    second = testing.Diagnosis("no-recurrence", Evidence(long_h, "h", None, None, None, ""), 1)
    checks = [
        check("rnn_forward", "h", "batch", False, 0.5),
        check("rnn_backward", "dWh", "batch", False, 0.25),
        check("rnn_step_backward", "dx", "long", False, None, "the call raised ValueError: no"),
        check("rnn_backward", "db", "long", True, 0.0),
        check("rnn_backward", "exists", "", False, None, "mine has no rnn_backward"),
    ]
    unexplained = [checks[2].name, checks[4].name]
    report = _report(checks, [first, second], unexplained=unexplained)
    wrong = testing_items.Mismatch((0, 1, 2), 0.25, 0.5, 3, 40)
    values = testing_items._values(report, {h: (2, wrong), checks[3].name: (None, None)})
    assert [v.id for v in values] == [
        "rnn_forward-batch-float64-h",
        "rnn_backward-batch-float64-dWh",
        "rnn_step_backward-long-float64-dx",
        "rnn_backward-long-float64-db",
        "rnn_backward-float64-exists",
    ]
    assert [v.title for v in values] == [
        "rnn_forward: h of case batch",
        "rnn_backward: dWh of case batch",
        "rnn_step_backward: dx of case long",
        "rnn_backward: db of case long",
        "rnn_backward: exists",
    ]
    assert [v.mistakes for v in values] == [
        ("missing-bias",),
        ("missing-bias", "no-recurrence"),
        (),
        (),
        (),
    ]
    assert values[0].failure().splitlines() == [
        "rnn_forward: h of case batch (mine as cs231n, float64): missing-bias",
        "  error 0.5 > tolerance 1e-12 (max|actual - expected| / max|expected|)",
        "  first failing time step: 2",
        "  mistake: missing-bias: " + testing.MISTAKES["missing-bias"],
        "  Mismatched elements: 3 / 40 (7.5%)",
        "  First mismatch at index (0, 1, 2): actual 0.25, expected 0.5",
    ]
    assert values[2].failure().splitlines() == [
        "rnn_step_backward: dx of case long (mine as cs231n, float64): no catalogued mistake",
        "  not compared: the call raised ValueError: no",
        "  mistake: none of the catalogued mistakes explains it",
    ]
    assert values[4].failure().splitlines()[:2] == [
        "rnn_backward: exists (mine as cs231n, float64): no catalogued mistake",
        "  not compared: mine has no rnn_backward",
    ]
    assert repr(values[3]) == "<CheckedValue rnn_backward-long-float64-db: passed>"
    assert str(values[3]) == values[3].id
    values[3].assert_passed()
    with pytest.raises(AssertionError, match=r"^rnn_forward: h of case batch"):
        values[0].assert_passed()


@pytest.mark.parametrize(
    ("api", "target", "label", "value", "made"),
    [
        ("cs231n", "mine", "step:", "next_h", "rnn_step_forward"),
        ("cs231n", "mine", "step:", "dWh", "rnn_step_backward"),
        ("cs231n-torch", "mine", "", "h", "rnn_forward"),
        ("cs231n", "mine", "", "dh0", "rnn_backward"),
        ("coursera", "c.py", "cell:", "yt_pred", "rnn_cell_forward"),
        ("coursera", "c.py", "", "dWaa", "rnn_backward"),
        ("dlfs2", "t.py:TimeRNN", "", "hs", "TimeRNN.forward"),
        ("dlfs2", "t.py:TimeRNN", "", "dWh", "TimeRNN.backward"),
        ("sprint", "s.py:SimpleRNN", "", "h", "SimpleRNN.forward"),
        ("d2l", "d.py:my_rnn", "", "W_hh.grad", "my_rnn"),
        ("d2l", "d2l_module", "", "W_hh.grad", "rnn"),
    ],
)
def test_a_check_is_made_by_the_user_s_own_function_or_method(api, target, label, value, made):
    assert made_by(api, target, label, value) == made


def test_a_mismatch_is_the_first_element_beyond_the_tolerance_of_the_largest_expected():
    expected = np.array([[4.0, -2.0, 1.0], [0.5, 3.0, -1.0]])
    actual = expected.copy()
    actual[0, 2] += 5e-12  # 5e-12 / 4 > 1e-12: beyond
    actual[1, 0] += 3e-12  # 3e-12 / 4 < 1e-12: within, although 6e-12 of its own 0.5
    actual[1, 2] = np.nan
    found = testing_items.mismatch(actual, expected, 1e-12)
    assert found == testing_items.Mismatch((0, 2), 1.000000000005, 1.0, 2, 6)
    assert found.lines() == [
        "Mismatched elements: 2 / 6 (33.3%)",
        "First mismatch at index (0, 2): actual 1.000000000005, expected 1.0",
    ]
    zeros = np.zeros(3)
    assert testing_items.mismatch([0.0, 2e-12, 0.0], zeros, 1e-12) == testing_items.Mismatch(
        (1,), 2e-12, 0.0, 1, 3
    )  # the absolute error where the expected value is all zero
    assert testing_items.mismatch(expected + 1e-13, expected, 1e-12) is None
    assert testing_items.mismatch(np.zeros((2, 1)), np.zeros(2), 1e-12) is None  # the check says
    assert testing_items.mismatch(np.zeros((0, 3)), np.zeros((0, 3)), 1e-12) is None


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
        check = Check.of(
            "rnn_forward", "h", "a", passed=True, error=0.0, tolerance=1e-12, detail=None
        )
        return [testing_items._values(_report([check], [], []), {})[0]]

    monkeypatch.setattr(testing, "checked_values", checked_values)
    argname, params = testing.parametrize(testing_items, api="cs231n", dtype=["float32", "float64"])
    assert argname == "rnn_check"
    assert [p.id for p in params] == ["rnn_forward-a-float64-h"]
    target, kwargs = calls[0]
    assert target == "reference_rnn.testing.items"
    assert kwargs["name"] == "reference_rnn.testing.items"
    assert kwargs["dtypes"] == ["float32", "float64"]
    testing.parametrize("pkg.mod", api="sprint", argname="x", timeout=3)
    assert calls[1][0] == "pkg.mod"
    assert calls[1][1]["limits"].timeout == 3
    with pytest.raises(ValueError, match="dtype must be one of"):
        testing.parametrize("pkg.mod", api="cs231n", dtype="float16")  # type: ignore[arg-type]
