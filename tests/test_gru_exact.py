"""The GRU core against exact arithmetic and against central differences, both conventions.

The exact side is the equations of :mod:`reference_rnn.core.gru` written here in mpmath at 50
significant digits, scalar by scalar, on the core's batch-first arrays; its gradients are central
differences of that forward at 50 digits with a step of 1e-20 (truncation error about 1e-40 of
the scale, rounding about 1e-30): nothing in it knows backpropagation through time. Then the
core's float64 gradients against float64 central differences of its own forward (step 1e-6),
the check a student can run.
"""

from __future__ import annotations

import numpy as np
import pytest
from gru_arrays import GRADIENTS, OPERANDS, RESETS, forward_args, gru_arrays, reset_id

import reference_rnn as rr
from reference_rnn.core.measure import FD_TOLERANCE, TOLERANCE, central_differences, scaled_error

mpmath = pytest.importorskip("mpmath")

DIGITS = 50
STEP = mpmath.mpf("1e-20")
#: (N, T, D, H): small, since each gradient entry costs two forward passes in mpmath
SHAPES = [(2, 3, 2, 3), (1, 4, 3, 2)]
CASES = pytest.mark.parametrize(
    ("shape", "reset_after"),
    [(shape, r) for shape in SHAPES for r in RESETS],
    ids=lambda v: reset_id(v) if isinstance(v, bool) else str(v),
)


def _sigmoid(a):
    return 1 / (1 + mpmath.exp(-a))


def exact_h(x, h0, Wx, Wh, b, bh, reset_after):
    """h (N, T, H) as nested lists of mpmath numbers, from nested lists of them."""
    N, T, H = len(x), len(x[0]), len(h0[0])

    def dot(v, W, column):  # sum_i v[i] * W[i][column]
        return mpmath.fsum(v[i] * W[i][column] for i in range(len(v)))

    h = [[None] * T for _ in range(N)]
    for n in range(N):
        prev = list(h0[n])
        for t in range(T):
            xt = x[n][t]
            new = []
            r = [_sigmoid(dot(xt, Wx, j) + b[j] + dot(prev, Wh, j) + bh[j]) for j in range(H)]
            rh = [r[i] * prev[i] for i in range(H)]
            for j in range(H):
                z = _sigmoid(dot(xt, Wx, H + j) + b[H + j] + dot(prev, Wh, H + j) + bh[H + j])
                k = 2 * H + j
                if reset_after:
                    recurrent = r[j] * (dot(prev, Wh, k) + bh[k])
                else:
                    recurrent = dot(rh, Wh, k) + bh[k]
                cand = mpmath.tanh(dot(xt, Wx, k) + b[k] + recurrent)
                new.append((1 - z) * cand + z * prev[j])
            h[n][t] = new
            prev = new
    return h


def _exact(a, reset_after):
    """The exact h and gradients of sum(h * dh), rounded to float64, named as the core's."""
    with mpmath.workdps(DIGITS):
        values = {name: np.vectorize(mpmath.mpf, otypes=[object])(a[name]) for name in OPERANDS}
        dh = np.vectorize(mpmath.mpf, otypes=[object])(a["dh"])

        def loss():
            args = [values[name].tolist() for name in OPERANDS]
            h = np.array(exact_h(*args, reset_after), dtype=object)
            return h, mpmath.fsum((h * dh).ravel())

        h, _ = loss()
        grads = {}
        for name, grad in zip(OPERANDS, GRADIENTS, strict=True):
            g = np.empty(values[name].shape)
            for index in np.ndindex(g.shape):
                original = values[name][index]
                values[name][index] = original + STEP
                plus = loss()[1]
                values[name][index] = original - STEP
                minus = loss()[1]
                values[name][index] = original
                g[index] = float((plus - minus) / (2 * STEP))
            grads[grad] = g
    to_float = np.vectorize(float, otypes=[np.float64])
    return {"h": to_float(h)} | grads


@CASES
def test_the_core_is_within_float64_rounding_of_exact(shape, reset_after):
    a = gru_arrays(*shape, seed=5)
    expected = _exact(a, reset_after)
    h, cache = rr.gru_forward(*forward_args(a), reset_after=reset_after)
    errors = {"h": scaled_error(h, expected["h"])}
    for name, grad in zip(GRADIENTS, rr.gru_backward(a["dh"], cache), strict=True):
        errors[name] = scaled_error(grad, expected[name])
    # a few float64 roundings of the values' scale: far inside the tolerance against torch
    assert max(errors.values()) < TOLERANCE["float64"] / 100, errors


def test_exact_arithmetic_tells_the_conventions_apart():
    a = gru_arrays(2, 3, 2, 3, seed=5)
    after, before = _exact(a, True), _exact(a, False)
    h, _ = rr.gru_forward(*forward_args(a), reset_after=False)
    assert scaled_error(h, after["h"]) > 1e-3
    assert scaled_error(h, before["h"]) < 1e-15


@pytest.mark.parametrize("shape", [(3, 5, 4, 6), (1, 2, 1, 1)])
@pytest.mark.parametrize("reset_after", RESETS, ids=reset_id)
def test_the_gradients_are_central_differences_of_the_forward(shape, reset_after):
    a = gru_arrays(*shape, seed=6)

    def loss(arrays):
        h, _ = rr.gru_forward(*forward_args(arrays), reset_after=reset_after)
        return float((h * a["dh"]).sum())

    expected = central_differences(loss, {name: a[name] for name in OPERANDS})
    _, cache = rr.gru_forward(*forward_args(a), reset_after=reset_after)
    grads = rr.gru_backward(a["dh"], cache)
    for operand, grad in zip(OPERANDS, grads, strict=True):
        assert scaled_error(grad, expected[operand]) < FD_TOLERANCE, operand
