"""The GRU core against JAX, both conventions, both dtypes, forward and backward separately.

The JAX side is the module docstring's equations written here in ``jax.numpy`` over
``jax.lax.scan``, differentiated by ``jax.vjp`` with an arbitrary upstream gradient at every step:
nothing of the package computes it. It is the independent check of ``reset_after=False``, which
torch does not compute (torch checks ``reset_after=True`` in test_gru_functional.py).

jax is imported through the oracle module, which restricts it to the CPU first.
"""

from __future__ import annotations

import functools
import importlib.util

import numpy as np
import pytest
from gru_arrays import GRADIENTS, RESETS, forward_args, gru_arrays, reset_id

import reference_rnn as rr
from reference_rnn.core.measure import TOLERANCE, scaled_error
from reference_rnn.core.validation import DTYPES
from reference_rnn.oracles import jax as jax_oracle

if importlib.util.find_spec("jax") is None:
    pytest.skip("jax is not installed", allow_module_level=True)
jax = jax_oracle.import_jax()
jnp = jax.numpy

SHAPES = [(1, 1, 1, 1), (2, 3, 5, 4), (3, 7, 1, 9), (4, 11, 6, 7)]


def jax_gru(x, h0, Wx, Wh, b, bh, reset_after):
    """h (N, T, H): the equations, one step per scan iteration over time-major inputs."""

    def step(h, x_t):
        xr, xz, xn = jnp.split(x_t @ Wx + b, 3, axis=1)
        Wh_r, Wh_z, Wh_n = jnp.split(Wh, 3, axis=1)
        bh_r, bh_z, bh_n = jnp.split(bh, 3)
        r = jax.nn.sigmoid(xr + h @ Wh_r + bh_r)
        z = jax.nn.sigmoid(xz + h @ Wh_z + bh_z)
        if reset_after:
            n = jnp.tanh(xn + r * (h @ Wh_n + bh_n))
        else:
            n = jnp.tanh(xn + (r * h) @ Wh_n + bh_n)
        h_new = (1 - z) * n + z * h
        return h_new, h_new

    _, h = jax.lax.scan(step, h0, jnp.swapaxes(x, 0, 1))  # (N, T, D) -> (T, N, D)
    return jnp.swapaxes(h, 0, 1)


def jax_results(a, reset_after):
    """JAX's h and the gradients of sum(h * dh), named as the core's."""
    with jax.enable_x64(True):
        args = [jnp.asarray(value) for value in forward_args(a)]
        h, pullback = jax.vjp(lambda *args: jax_gru(*args, reset_after), *args)
        grads = pullback(jnp.asarray(a["dh"]))
        return {"h": np.asarray(h)} | {
            name: np.asarray(g) for name, g in zip(GRADIENTS, grads, strict=True)
        }


CASES = pytest.mark.parametrize(
    ("shape", "dtype", "reset_after"),
    [(shape, dtype, reset_after) for shape in SHAPES for dtype in DTYPES for reset_after in RESETS],
    ids=lambda v: reset_id(v) if isinstance(v, bool) else str(v),
)


def _assert_close(actual, expected, dtype):
    __tracebackhide__ = True
    assert actual.dtype == expected.dtype == np.dtype(dtype)
    error = scaled_error(actual, expected)
    assert error <= TOLERANCE[dtype], f"scaled error {error:.2e} > {TOLERANCE[dtype]:.0e}"


@functools.cache
def _case(shape, dtype, reset_after):
    """The case's arrays and JAX's results, computed once for the forward and backward tests."""
    a = gru_arrays(*shape, dtype=dtype, seed=3)
    return a, jax_results(a, reset_after)


@CASES
def test_forward_matches_jax(shape, dtype, reset_after):
    a, expected = _case(shape, dtype, reset_after)
    h, _ = rr.gru_forward(*forward_args(a), reset_after=reset_after)
    _assert_close(h, expected["h"], dtype)


@CASES
def test_backward_matches_jax(shape, dtype, reset_after):
    a, expected = _case(shape, dtype, reset_after)
    _, cache = rr.gru_forward(*forward_args(a), reset_after=reset_after)
    for name, grad in zip(GRADIENTS, rr.gru_backward(a["dh"], cache), strict=True):
        _assert_close(grad, expected[name], dtype)


def test_jax_tells_the_conventions_apart():
    # the JAX side is no constant: each convention's core result disagrees with the other's
    a = gru_arrays(2, 3, 5, 4)
    h, _ = rr.gru_forward(*forward_args(a), reset_after=False)
    assert scaled_error(h, jax_results(a, reset_after=True)["h"]) > 1e-3
