"""The error measure and finite differences themselves."""

from __future__ import annotations

import numpy as np
import pytest

from reference_rnn.core.measure import central_differences, scaled_error


def test_scaled_error_is_relative_to_the_largest_expected_value():
    assert scaled_error([1.0, 2.0], [1.0, 4.0]) == pytest.approx(0.5)
    assert scaled_error([0.5], [0.0]) == 0.5  # all-zero expected: absolute
    assert scaled_error(np.zeros((0, 3)), np.zeros((0, 3))) == 0.0


def test_scaled_error_refuses_to_broadcast():
    with pytest.raises(ValueError, match=r"actual \(2, 1\), expected \(2,\)"):
        scaled_error(np.zeros((2, 1)), np.zeros(2))


def test_central_differences_of_a_known_function_and_the_caller_arrays_are_untouched():
    a = np.array([[1.0, 2.0], [3.0, -1.0]])
    b = np.array([0.5, -2.0])
    grads = central_differences(
        lambda p: float((p["a"] ** 3).sum() + (p["a"] @ p["b"]).sum()), {"a": a, "b": b}
    )
    np.testing.assert_allclose(grads["a"], 3 * a**2 + b, rtol=1e-8)
    np.testing.assert_allclose(grads["b"], a.sum(axis=0), rtol=1e-8)
    np.testing.assert_array_equal(a, [[1.0, 2.0], [3.0, -1.0]])
