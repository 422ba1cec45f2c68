"""The optimizers' arguments: ``update(params, grads)`` or ``update(layer)``, checked whole."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import numpy as np

from reference_rnn.core.validation import (
    FloatArray,
    Key,
    as_items,
    as_real_array,
    cast_finite,
    check_shape,
    kind_of,
)

__all__ = ["Trainable", "checked_pairs"]


@runtime_checkable
class Trainable(Protocol):
    """A layer or model that ``update(layer)`` trains: lists or dicts of arrays."""

    params: Any
    grads: Any


def checked_pairs(params: object, grads: object) -> list[tuple[Key, FloatArray, FloatArray]]:
    """``(key, param, grad)`` for every parameter, every one checked; the grads as param's dtype."""
    p_name, g_name = "params", "grads"
    if grads is None:
        if not isinstance(params, Trainable):
            msg = (
                "update takes (params, grads) or an object with .params and .grads, "
                f"got a {type(params).__name__} without them"
            )
            raise TypeError(msg)
        layer: Trainable = params
        params, grads = layer.params, layer.grads
        p_name, g_name = "layer.params", "layer.grads"
    p_items = as_items(p_name, params)
    g_items = as_items(g_name, grads)
    if isinstance(params, Mapping) != isinstance(grads, Mapping):
        msg = f"{p_name} and {g_name} must both be lists or both be dicts"
        raise TypeError(msg)
    if p_items.keys() != g_items.keys():
        if isinstance(params, Mapping):
            missing = [k for k in p_items if k not in g_items]
            unexpected = [k for k in g_items if k not in p_items]
            msg = (
                f"{g_name} must have the keys of {p_name}: missing {missing}, "
                f"unexpected {unexpected}"
            )
        else:
            msg = (
                f"{p_name} and {g_name} must have the same length, "
                f"got {len(p_items)} and {len(g_items)}"
            )
        raise ValueError(msg)
    pairs = []
    for key, param in p_items.items():
        p_label, g_label = f"{p_name}[{key!r}]", f"{g_name}[{key!r}]"
        if not isinstance(param, np.ndarray) or param.dtype.kind != "f":
            msg = (
                f"{p_label} must be a floating NumPy array (updated in place), got {kind_of(param)}"
            )
            raise TypeError(msg)
        if not param.flags.writeable:
            msg = f"{p_label} must be writeable: it is updated in place"
            raise ValueError(msg)
        if not np.isfinite(param).all():
            msg = f"{p_label} must be finite, got an array with NaN or inf; nothing was updated"
            raise ValueError(msg)
        grad = as_real_array(g_label, g_items[key])
        check_shape(g_label, grad, param.shape, f"the shape of {p_label}")
        if not np.isfinite(grad).all():
            msg = f"{g_label} must be finite, got an array with NaN or inf; nothing was updated"
            raise ValueError(msg)
        pairs.append((key, param, cast_finite(g_label, grad, param.dtype, f"{p_label}'s dtype")))
    _require_separate(p_name, pairs)
    return pairs


#: NumPy's exception for a memory overlap too costly to decide (np.exceptions from NumPy 1.25 on)
_TOO_HARD: type[Exception] = getattr(getattr(np, "exceptions", np), "TooHardError")  # noqa: B009


def _require_separate(p_name: str, pairs: list[tuple[Key, FloatArray, FloatArray]]) -> None:
    """No two parameters share memory: the update written to one would overwrite the other's.

    ``may_share_memory`` (bounds only) finds the candidates, ``shares_memory`` decides; a pair too
    costly to decide counts as sharing.
    """
    for i, (key, param, _) in enumerate(pairs):
        for other_key, other, _ in pairs[i + 1 :]:
            if not np.may_share_memory(param, other):
                continue
            try:
                # a bound on the exact search (NumPy's stubs allow only -1 and 0 here)
                shared = np.shares_memory(param, other, max_work=10**6)  # type: ignore[arg-type]
            except _TOO_HARD:
                shared = True
            if shared:
                msg = (
                    f"{p_name}[{key!r}] and {p_name}[{other_key!r}] share memory: each is updated "
                    "in place, so one update would overwrite the other; give each parameter its "
                    "own array (nothing was updated)"
                )
                raise ValueError(msg)
