"""The error measure and finite differences themselves."""

from __future__ import annotations

import numpy as np
import pytest

from reference_rnn.core.measure import (
    central_differences,
    first_step_over,
    scaled_error,
    step_errors,
)


def test_scaled_error_is_relative_to_the_largest_expected_value():
    assert scaled_error([1.0, 2.0], [1.0, 4.0]) == pytest.approx(0.5)
    assert scaled_error([0.5], [0.0]) == 0.5  # all-zero expected: absolute
    assert scaled_error(np.zeros((0, 3)), np.zeros((0, 3))) == 0.0


def test_scaled_error_refuses_to_broadcast():
    with pytest.raises(ValueError, match=r"actual \(2, 1\), expected \(2,\)"):
        scaled_error(np.zeros((2, 1)), np.zeros(2))


def test_step_errors_share_the_whole_value_s_scale_and_find_the_first_step_over():
    expected = np.ones((2, 4, 3))  # (N, T, H)
    actual = expected.copy()
    actual[1, 2, 0] += 0.5
    errors = step_errors(actual, expected)
    assert errors.tolist() == [0.0, 0.0, 0.5, 0.0]
    assert errors.max() == scaled_error(actual, expected)
    assert first_step_over(errors, 1e-12) == 2
    assert first_step_over(errors, 0.5) is None  # over, not at
    assert step_errors(np.full((1, 2, 1), 0.5), np.zeros((1, 2, 1))).tolist() == [0.5, 0.5]
    with pytest.raises(ValueError, match=r"actual \(2, 4\), expected \(2, 4, 3\)"):
        step_errors(actual[..., 0], expected)


def test_a_nan_where_the_expected_value_is_finite_is_past_any_tolerance():
    expected = np.ones((1, 3, 2))
    actual = expected.copy()
    actual[0, 1, 1] = np.nan
    assert step_errors(actual, expected).tolist() == [0.0, np.inf, 0.0]
    assert first_step_over(step_errors(actual, expected), 1e300) == 1


def test_central_differences_of_a_known_function_and_the_caller_arrays_are_untouched():
    a = np.array([[1.0, 2.0], [3.0, -1.0]])
    b = np.array([0.5, -2.0])
    grads = central_differences(
        lambda p: float((p["a"] ** 3).sum() + (p["a"] @ p["b"]).sum()), {"a": a, "b": b}
    )
    np.testing.assert_allclose(grads["a"], 3 * a**2 + b, rtol=1e-8)
    np.testing.assert_allclose(grads["b"], a.sum(axis=0), rtol=1e-8)
    np.testing.assert_array_equal(a, [[1.0, 2.0], [3.0, -1.0]])
