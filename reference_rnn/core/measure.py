"""How results are compared: the error measure, the tolerances and finite differences.

Errors are measured relative to the scale of the expected values, ``max|a - e| / max|e|``: an
elementwise relative error would blow up on entries that are tiny only by accident, and an absolute
one would mean something else for every shape.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from reference_rnn.core.validation import FloatArray

__all__ = [
    "FD_STEP",
    "FD_TOLERANCE",
    "TOLERANCE",
    "central_differences",
    "entry_errors",
    "first_step_over",
    "scaled_error",
    "step_errors",
]

#: Agreement with torch in the same dtype, at torch's default initialisation.
TOLERANCE = {"float64": 1e-12, "float32": 1e-5}
#: Central differences in float64 with step FD_STEP agree with an exact gradient to about 1e-9.
FD_STEP = 1e-6
FD_TOLERANCE = 1e-7


def scaled_error(actual: object, expected: object) -> float:
    """``max|actual - expected| / max|expected|``; the absolute error where expected is all zero.

    Shapes must match exactly: a broadcast would hide a wrong shape.
    """
    a, e = _same_shape(actual, expected)
    if a.size == 0:
        return 0.0
    scale = float(np.abs(e).max())
    return float(np.abs(a - e).max()) / (scale if scale > 0 else 1.0)


def _same_shape(actual: object, expected: object) -> tuple[FloatArray, FloatArray]:
    """Both in float64; ValueError unless their shapes match exactly (a broadcast would hide one)."""
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    if a.shape != e.shape:
        msg = f"shapes differ: actual {a.shape}, expected {e.shape}"
        raise ValueError(msg)
    return a, e


def step_errors(actual: object, expected: object) -> FloatArray:
    """The error of each time step of ``(N, T, ...)`` values: ``max|actual_t - expected_t| / s``.

    ``s`` is :func:`scaled_error`'s scale, the whole expected value's, so that the worst step's
    error is the value's. Shapes must match exactly; NaN as in :func:`entry_errors`.
    """
    errors = _scaled_differences(actual, expected)
    others = tuple(axis for axis in range(errors.ndim) if axis != 1)  # (N, T, .) -> (T,)
    step: FloatArray = errors.max(axis=others)
    return step


def entry_errors(actual: object, expected: object) -> FloatArray:
    """The error of each entry, in C order: ``|actual - expected| / s`` (a weight gradient's).

    ``s`` is :func:`scaled_error`'s scale. The NaN rule: a NaN in ``actual`` where ``expected``
    is finite is an infinite error, past any tolerance (a NaN compares false with every number:
    left as it is, it would pass every ``>`` unseen). Shapes must match exactly.
    """
    entries: FloatArray = _scaled_differences(actual, expected).ravel()
    return entries


def _scaled_differences(actual: object, expected: object) -> FloatArray:
    a, e = _same_shape(actual, expected)
    scale = float(np.abs(e).max()) if e.size else 0.0
    difference = np.where(np.isnan(a) & np.isfinite(e), np.inf, np.abs(a - e))
    scaled: FloatArray = difference / (scale if scale > 0 else 1.0)
    return scaled


def first_step_over(errors: Sequence[float] | FloatArray, tolerance: float) -> int | None:
    """The first time step whose error (of :func:`step_errors`) exceeds ``tolerance``, or None."""
    over = np.flatnonzero(np.asarray(errors) > tolerance)
    return int(over[0]) if over.size else None


def central_differences(
    loss: Callable[[Mapping[str, FloatArray]], float],
    arrays: Mapping[str, object],
    step: float = FD_STEP,
) -> dict[str, FloatArray]:
    """``d loss / d arrays[name]`` for every name, by central differences in float64.

    ``loss`` is called with float64 copies of ``arrays``, one element of one array moved by
    ``+-step`` at a time; the caller's arrays are not touched.
    """
    point = {name: np.array(value, dtype=np.float64) for name, value in arrays.items()}
    grads: dict[str, FloatArray] = {}
    for name, a in point.items():
        grad = np.empty_like(a)
        for index in np.ndindex(a.shape):
            original = a[index]
            a[index] = original + step
            plus = loss(point)
            a[index] = original - step
            minus = loss(point)
            a[index] = original
            grad[index] = (plus - minus) / (2 * step)
        grads[name] = grad
    return grads
