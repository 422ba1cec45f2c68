"""The output layer some exercises put on top of the states: ``y_t = h_t @ Wy + by``.

Shapes: h (N, T, H), Wy (H, Q), by (Q,), y and dy (N, T, Q), with Q the outputs per step.

- d2l's "RNN from scratch" returns this linear layer's outputs, and its gradients flow back
  through it into the states: :func:`readout_backward`.
- Coursera's "Building your Recurrent Neural Network" returns ``softmax(y_t)`` over the Q
  outputs, and backpropagates the states' gradients only: ``softmax=True`` in
  :func:`readout_forward`, no backward.

The functions never modify their arguments; they are checked against torch in
tests/test_readout.py.
"""

from __future__ import annotations

import numpy as np

from reference_rnn.core.validation import (
    FloatArray,
    NonFiniteResultError,
    as_real_array,
    check_ndim,
    check_shape,
    require_finite,
)

__all__ = ["readout_backward", "readout_forward"]


def readout_forward(
    h: FloatArray, Wy: FloatArray, by: FloatArray, *, softmax: bool = False
) -> FloatArray:
    """``y_t = h_t @ Wy + by`` for every step, or its softmax over the Q outputs.

    h (N, T, H), Wy (H, Q), by (Q,) -> y (N, T, Q). NaN or inf in the arguments is a
    ValueError; finite arguments whose product overflows, a :class:`NonFiniteResultError`.
    """
    h, Wy = _checked(h, Wy)
    by = _finite("by", by)
    check_shape("by", by, (Wy.shape[1],), "(Q,)")
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is raised as an error
        y = _result("the output y", h @ Wy + by)
    if not softmax:
        return y
    # shifted by the largest logit, so that exp never overflows; the ratio is the same
    e: FloatArray = np.exp(y - y.max(axis=-1, keepdims=True))
    probabilities: FloatArray = e / e.sum(axis=-1, keepdims=True)
    return probabilities


def readout_backward(
    dy: FloatArray, h: FloatArray, Wy: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """The linear layer's gradients for the upstream gradient ``dy (N, T, Q)``.

    Returns dh (N, T, H), the states' share ``dy_t @ Wy.T``; dWy (H, Q), summed over the batch
    and the steps; dby (Q,).
    """
    h, Wy = _checked(h, Wy)
    dy = _finite("dy", dy)
    check_shape("dy", dy, (*h.shape[:2], Wy.shape[1]), "(N, T, Q)")
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is raised as an error
        dh = _result("the gradient dh", dy @ Wy.T)
        dWy = _result("the gradient dWy", np.einsum("nth,ntq->hq", h, dy))
        dby = _result("the gradient dby", dy.sum(axis=(0, 1)))
    return dh, dWy, dby


def _checked(h: object, Wy: object) -> tuple[FloatArray, FloatArray]:
    h, Wy = _finite("h", h), _finite("Wy", Wy)
    check_ndim("h", h, 3, "(N, T, H)")
    check_ndim("Wy", Wy, 2, "(H, Q)")
    check_shape("Wy", Wy, (h.shape[2], Wy.shape[1]), "(H, Q)")
    return h, Wy


def _finite(name: str, value: object) -> FloatArray:
    arr = as_real_array(name, value)
    require_finite(name, arr)
    return arr


def _result(what: str, arr: FloatArray) -> FloatArray:
    if not np.isfinite(arr).all():
        detail = "it reached NaN" if np.isnan(arr).any() else "it reached inf"
        raise NonFiniteResultError(what, arr.dtype, detail)
    return arr
