"""Gradient clipping with ``torch.nn.utils``' rules: by total norm, and by value, in place."""

from __future__ import annotations

import math

import numpy as np

from reference_rnn.core.validation import (
    FloatArray,
    as_items,
    check_at_least,
    kind_of,
)

__all__ = ["clip_grad_norm", "clip_grad_value"]


def clip_grad_norm(grads: object, max_norm: float, norm_type: float | str = 2.0) -> float:
    """Scale ``grads`` in place so that their total norm is at most about ``max_norm``.

    ``torch.nn.utils.clip_grad_norm_``: the total norm is the ``norm_type``-norm of every
    gradient's norm (the norm of all of them as one vector); each gradient is multiplied by
    ``min(max_norm / (total_norm + 1e-6), 1)``.

    Parameters
    ----------
    grads : list or dict of arrays
        Modified in place.
    max_norm : float >= 0
    norm_type : float > 0, ``inf`` or ``"inf"``

    Returns
    -------
    total_norm : float
        The total norm before clipping.
    """
    arrays = _grad_arrays(grads)
    max_norm = check_at_least("max_norm value", "max_norm", max_norm, 0.0)
    p = _norm_type(norm_type)
    if not arrays:
        return 0.0
    total_norm = _total_norm(arrays, p)
    clip_coef = min(max_norm / (total_norm + 1e-6), 1.0)
    for g in arrays:
        np.multiply(g, clip_coef, out=g)
    return total_norm


def clip_grad_value(grads: object, clip_value: float) -> None:
    """Clip every gradient in place to ``[-clip_value, clip_value]``: ``clip_grad_value_``.

    Parameters
    ----------
    grads : list or dict of arrays
        Modified in place.
    clip_value : float >= 0
    """
    arrays = _grad_arrays(grads)
    clip_value = check_at_least("clip_value value", "clip_value", clip_value, 0.0)
    for g in arrays:
        limit = min(clip_value, float(np.finfo(g.dtype).max))  # float16's largest is 65504
        np.clip(g, -limit, limit, out=g)


def _total_norm(arrays: list[FloatArray], p: float, scale: float = 1.0) -> float:
    """The ``p``-norm of every array's ``p``-norm, torch's order of operations.

    Where the sum overflows (or underflows to zero) in the arrays' dtype although the norm itself
    is finite, it is computed again on the arrays divided by a power of two near their largest
    magnitude, which is exact; ``inf`` only when the norm itself exceeds float64.
    """
    with np.errstate(over="ignore", under="ignore"):
        norms = [
            np.linalg.norm(g.ravel() / scale if scale != 1 else g.ravel(), ord=p) for g in arrays
        ]
        total = float(np.linalg.norm(np.array(norms), ord=p)) * scale
    largest = max(float(np.abs(g).max(initial=0.0)) for g in arrays)
    if scale == 1.0 and 0 < largest < math.inf and (math.isinf(total) or total == 0):
        return _total_norm(arrays, p, math.ldexp(1.0, math.frexp(largest)[1] - 1))
    return total


def _norm_type(norm_type: object) -> float:
    if isinstance(norm_type, str) and norm_type == "inf":
        return math.inf
    if isinstance(norm_type, float) and norm_type == math.inf:
        return math.inf
    return check_at_least("norm_type", "norm_type", norm_type, 0.0, strict=True)


def _grad_arrays(grads: object) -> list[FloatArray]:
    """The gradient arrays of a list or dict, checked: floating, writeable, finite."""
    arrays = []
    for key, grad in as_items("grads", grads).items():
        label = f"grads[{key!r}]"
        if not isinstance(grad, np.ndarray) or grad.dtype.kind != "f":
            msg = f"{label} must be a floating NumPy array (clipped in place), got {kind_of(grad)}"
            raise TypeError(msg)
        if not grad.flags.writeable:
            msg = f"{label} must be writeable: it is clipped in place"
            raise ValueError(msg)
        if not np.isfinite(grad).all():
            msg = f"{label} must be finite, got an array with NaN or inf; nothing was clipped"
            raise ValueError(msg)
        arrays.append(grad)
    return arrays
