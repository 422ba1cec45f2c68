"""Hypothesis strategies for checking an RNN: sizes, weights at a scale, and whole cases.

    from hypothesis import given
    from reference_rnn import testing
    from reference_rnn.testing.strategies import cases

    @given(cases(dtype="float64"))
    def test_my_rnn(case):
        h, cache = my_rnn_forward(case.x, case.h0, case.Wx, case.Wh, case.b)
        testing.assert_close(h, case.expected["h"], name="h")

Needs hypothesis (``pip install "reference-rnn[testing]"``). A case's arrays come from a seeded
generator, so hypothesis draws and shrinks the sizes, the scale and the seed, not every element:
a failing case is small and reproducible. Weights are ``scale`` times torch's initialisation
U(-1/sqrt(H), 1/sqrt(H)); up to 4x keeps the dynamics from the chaos in which two correct
implementations drift apart (see the tolerances in docs/verification.md). In float32 a drawn
gradient can be a sum whose terms cancel, so that correct code misses 1e-5 relative to its small
scale (seen: dWx of a 1x2x1x1 case): draw float64 cases, and check float32 on the battery.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from reference_rnn.checker.battery import Case, make_case

__all__ = ["cases", "sizes", "weights"]

#: Sizes from one to this: small enough to shrink to, big enough to catch a transposed weight
MAX_SIZE = 6


def sizes(max_size: int = MAX_SIZE) -> st.SearchStrategy[tuple[int, int, int, int]]:
    """``(N, T, D, H)``, each from 1 to ``max_size``."""
    size = st.integers(1, max_size)
    return st.tuples(size, size, size, size)


def weights(
    D: int, H: int, *, scale: float = 1.0, dtype: str = "float64"
) -> st.SearchStrategy[tuple[Any, Any, Any]]:
    """``(Wx (D, H), Wh (H, H), b (H,))``: ``scale`` times torch's initialisation, any seed."""

    def drawn(seed: int) -> tuple[Any, Any, Any]:
        case = make_case("weights", 1, 1, D, H, dtype=dtype, seed=seed, scale=scale)
        return case.Wx, case.Wh, case.b

    return st.integers(0, 2**32 - 1).map(drawn)


def cases(
    *, dtype: str = "float64", max_size: int = MAX_SIZE, max_scale: float = 4.0
) -> st.SearchStrategy[Case]:
    """Whole cases, with their expected values: any sizes, scale up to ``max_scale``, h0 or none."""
    return st.builds(
        lambda shape, seed, zero_h0, scale: make_case(
            "drawn", *shape, dtype=dtype, seed=seed, zero_h0=zero_h0, scale=scale
        ),
        sizes(max_size),
        st.integers(0, 2**32 - 1),
        st.booleans(),
        st.floats(0.1, max_scale),
    )
