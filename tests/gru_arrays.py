"""Random arguments of the GRU core for the tests: torch's init scale, h0 != 0, any upstream gradient."""

from __future__ import annotations

import numpy as np

#: both of the GRU's conventions, as the tests' ids name them
RESETS = [True, False]


def reset_id(reset_after: bool) -> str:
    return "reset_after" if reset_after else "reset_before"


def gru_arrays(N, T, D, H, *, dtype="float64", seed=0, zero_h0=False):
    """x (N, T, D), h0, Wx (D, 3H), Wh (H, 3H), b, bh (3H,) and dh (N, T, H) of ``dtype``.

    The weights and biases are U(-1/sqrt(H), 1/sqrt(H)), torch's initialisation, the scale at which
    the tolerances hold; x and dh are standard normal; h0 is U(-1, 1) unless zero.
    """
    rng = np.random.default_rng(seed)
    k = 1 / np.sqrt(H)
    arrays = {
        "x": rng.standard_normal((N, T, D)),
        "h0": np.zeros((N, H)) if zero_h0 else rng.uniform(-1, 1, (N, H)),
        "Wx": rng.uniform(-k, k, (D, 3 * H)),
        "Wh": rng.uniform(-k, k, (H, 3 * H)),
        "b": rng.uniform(-k, k, 3 * H),
        "bh": rng.uniform(-k, k, 3 * H),
        "dh": rng.standard_normal((N, T, H)),
    }
    return {name: value.astype(dtype) for name, value in arrays.items()}


#: the forward's arguments, in order
OPERANDS = ("x", "h0", "Wx", "Wh", "b", "bh")
#: the backward's results, in order
GRADIENTS = ("dx", "dh0", "dWx", "dWh", "db", "dbh")


def forward_args(a):
    return tuple(a[name] for name in OPERANDS)
