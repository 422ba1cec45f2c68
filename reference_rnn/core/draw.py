"""Random inputs for one Elman layer, drawn from a seed: what the checker's and verify's cases hold.

One draw, so that a case made from the same seed holds the same numbers wherever it is made (the
exported files and the recorded fixtures depend on the order of the draws, which never changes).
"""

from __future__ import annotations

import numpy as np

from reference_rnn.core.validation import FloatArray

__all__ = ["draw_arrays"]


def draw_arrays(
    N: int, T: int, D: int, H: int, *, seed: int = 0, zero_h0: bool = False, scale: float = 1.0
) -> dict[str, FloatArray]:
    """x (N, T, D), h0 (N, H), Wx (D, H), Wh (H, H), b (H,) and dh (N, T, H), in float64.

    The weights are ``scale`` times torch's initialisation U(-1/sqrt(H), 1/sqrt(H)), the scale at
    which the tolerances hold; x and the upstream gradient dh are standard normal; h0 is zero or
    U(-1, 1).
    """
    rng = np.random.default_rng(seed)
    k = scale / np.sqrt(H)
    return {
        "x": rng.standard_normal((N, T, D)),
        "h0": np.zeros((N, H)) if zero_h0 else rng.uniform(-1, 1, (N, H)),
        "Wx": rng.uniform(-k, k, (D, H)),
        "Wh": rng.uniform(-k, k, (H, H)),
        "b": rng.uniform(-k, k, H),
        "dh": rng.standard_normal((N, T, H)),
    }
