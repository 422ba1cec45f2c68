"""``reference_rnn.testing.assert_close`` and ``cases``: the project's measure, in a test's words."""

from __future__ import annotations

import numpy as np
import pytest

from reference_rnn import testing


def test_assert_close_passes_within_the_tolerance_of_the_dtype():
    expected = np.array([[2.0, -4.0], [1.0, 0.5]])
    testing.assert_close(expected + 3e-12, expected, dtype="float64")  # 3e-12 / 4 < 1e-12
    testing.assert_close((expected + 3.9e-5).astype(np.float32), expected, dtype="float32")
    testing.assert_close([[0.0]], [[0.0]], dtype="float64")
    testing.assert_close(np.zeros((0, 3)), np.zeros((0, 3)), dtype="float64")


def test_assert_close_fails_with_the_error_the_worst_element_and_both_arrays():
    expected = np.array([[2.0, -4.0], [1.0, 0.5]])
    actual = expected.copy()
    actual[1, 0] += 0.02
    with pytest.raises(AssertionError) as info:
        testing.assert_close(actual, expected, name="dWh", msg="after 3 steps")
    assert str(info.value).splitlines() == [
        "",
        (
            "Not equal to tolerance 1e-12 for dWh (float64; "
            "error = max|actual - expected| / max|expected|)"
        ),
        "after 3 steps",
        "Error: 0.005",  # 0.02 / 4
        "Max absolute difference: 0.02 at index (1, 0) (actual 1.02, expected 1)",
        "Max absolute expected: 4",
        " ACTUAL: array([[ 2.  , -4.  ],",
        "       [ 1.02,  0.5 ]])",
        " EXPECTED: array([[ 2. , -4. ],",
        "       [ 1. ,  0.5]])",
    ]


def test_assert_close_hides_its_frame_and_infers_the_tolerance_from_the_dtype():
    assert testing.assert_close.__code__.co_varnames[0] == "actual"
    assert "__tracebackhide__" in testing.assert_close.__code__.co_varnames
    expected = np.ones(3)
    testing.assert_close(np.float32(1 + 3e-6) * np.ones(3, np.float32), expected)  # float32's 1e-5
    with pytest.raises(AssertionError, match="tolerance 1e-12"):
        testing.assert_close(np.ones(3) + 3e-6, expected)  # float64's 1e-12
    testing.assert_close([1, 2], [1.0, 2.0])  # integers: float64
    testing.assert_close([1, 2], [1.0, 2.0], dtype="float32")


def test_assert_close_refuses_a_result_in_another_dtype_unless_asked_not_to():
    result = np.ones(2)  # float64, for a float32 case
    with pytest.raises(AssertionError, match=r"\(dtypes float64, float32 mismatch\)$"):
        testing.assert_close(result, np.ones(2), dtype="float32")
    testing.assert_close(result, np.ones(2), dtype="float32", check_dtype=False)


def test_assert_close_points_at_a_nan_and_refuses_other_shapes_and_dtypes():
    with pytest.raises(
        AssertionError, match=r"Error: nan\nMax absolute difference: inf at index \(1,\)"
    ):
        testing.assert_close(np.array([1.0, np.nan], np.float32), [1.0, 2.0])
    with pytest.raises(AssertionError, match=r"\(shapes \(2, 1\), \(2,\) mismatch\)$"):
        testing.assert_close(np.zeros((2, 1)), np.zeros(2), dtype="float64")
    with pytest.raises(ValueError, match="dtype must be one of float64, float32, got 'float16'"):
        testing.assert_close([1.0], [1.0], dtype="float16")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="got 'float16'"):
        testing.assert_close(np.ones(1, np.float16), [1.0])


def test_cases_carry_inputs_in_their_dtype_and_expected_values_for_parametrize():
    cases = testing.cases("float32", stateful=True)
    assert isinstance(cases, list)
    assert testing.case_id(cases[1]) == "sample-h0-float32"
    assert [str(case) for case in cases] == [
        "sample",
        "sample-h0",
        "one-step",
        "one-step-batch",
        "batch-of-one",
        "batch",
        "batch-h0",
        "long",
        "small-weights",
        "saturating",
        "stateful",
    ]
    for case in cases:
        N, T, D, H = case.shape
        assert case.dtype == "float32"
        assert {a.dtype for a in (case.x, case.h0, case.Wx, case.Wh, case.b, case.dh)} == {
            np.dtype("float32")
        }
        assert case.x.shape == (N, T, D)
        assert case.dh.shape == (N, T, H)
        assert sorted(case.expected) == sorted(["h", "dx", "dh0", "dWx", "dWh", "db"])
    assert (cases[0].shape, cases[3].shape, cases[7].shape) == (
        (1, 3, 2, 4),
        (4, 1, 3, 5),
        (2, 40, 3, 5),
    )
    assert cases[3].zero_h0
    assert not cases[2].zero_h0
    # the stateful case's expected values are its second block's
    assert cases[-1].expected["h"].shape == (2, 5, 5)  # blocks of 3 then 5 steps


def test_the_battery_spans_small_to_saturating_weights():
    by_name = {case.name: case for case in testing.cases()}
    assert np.abs(by_name["small-weights"].expected["h"]).max() < 0.1
    # a third of the states beyond 0.95 (tanh' < 0.1), some beyond 0.9999, not all: gradients
    # still flow. Heavier saturation fails correct float32 code at 1e-5: at 8x torch's scale
    # its worst error over 30 seeds is 4e-5 (2.8e-6 at this 4x)
    h = np.abs(by_name["saturating"].expected["h"])
    assert 0.3 < (h > 0.95).mean() < 0.5
    assert h.max() > 0.9999


def test_make_case_refuses_an_unknown_dtype():
    with pytest.raises(ValueError, match="dtype must be one of"):
        testing.make_case("x", 1, 1, 1, 1, dtype="int8")
