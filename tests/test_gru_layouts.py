"""The GRU's layout to d2l, deep-learning-from-scratch-2 and Flax, each mapping run (docs/gru.md).

Each other convention is computed here from its own equations as its source states them, on its
own parameters; the mapping of docs/gru.md turns those parameters into the core's arrays, and the
core must give the same states, and gradients that map back to the other's. Keras' and ONNX's
layouts are checked where those frameworks run (tests/test_gru_keras.py, tests/test_gru_onnx.py).
"""

from __future__ import annotations

import importlib.util
import os
from types import ModuleType

import numpy as np
import pytest
from gru_arrays import gru_arrays

import reference_rnn as rr
from reference_rnn.core.measure import TOLERANCE, scaled_error

N, T, D, H = 3, 4, 5, 6


def _assert_close(actual, expected):
    __tracebackhide__ = True
    assert actual.shape == expected.shape
    assert scaled_error(actual, expected) <= TOLERANCE["float64"]


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


def _blocks(a):
    """The three gate blocks of ``a``'s last axis, in the core's order r, z, n."""
    return np.split(a, 3, axis=-1)


# -- d2l (Dive into Deep Learning, 10.2 "Gated Recurrent Units", from scratch) ------------------


def test_d2l_is_reset_after_false_with_its_gates_side_by_side(torch: ModuleType):
    """d2l: Z = s(X W_xz + H W_hz + b_z), R = s(X W_xr + H W_hr + b_r),
    H~ = tanh(X W_xh + (R * H) W_hh + b_h), H = Z * H + (1 - Z) * H~; time-major inputs.

    Mapping: Wx = [W_xr, W_xz, W_xh], Wh = [W_hr, W_hz, W_hh], b = [b_r, b_z, b_h], bh = 0,
    reset_after=False.
    """
    rng = np.random.default_rng(0)
    names = ["W_xz", "W_hz", "W_xr", "W_hr", "W_xh", "W_hh", "b_z", "b_r", "b_h"]
    shapes = {"W_x": (D, H), "W_h": (H, H), "b_": (H,)}
    d2l = {
        name: torch.tensor(
            rng.normal(0, 0.3, shapes[name[:3] if name[0] == "W" else "b_"]), requires_grad=True
        )
        for name in names
    }
    inputs = torch.tensor(rng.standard_normal((T, N, D)), requires_grad=True)  # d2l is time-major
    H0 = torch.tensor(rng.uniform(-1, 1, (N, H)), requires_grad=True)
    p, state, outputs = d2l, H0, []
    for X in inputs:
        Z = torch.sigmoid(X @ p["W_xz"] + state @ p["W_hz"] + p["b_z"])
        R = torch.sigmoid(X @ p["W_xr"] + state @ p["W_hr"] + p["b_r"])
        H_tilde = torch.tanh(X @ p["W_xh"] + (R * state) @ p["W_hh"] + p["b_h"])
        state = Z * state + (1 - Z) * H_tilde
        outputs.append(state)
    dh = rng.standard_normal((T, N, H))
    (torch.stack(outputs) * torch.tensor(dh)).sum().backward()

    def a(name):
        return p[name].detach().numpy()

    Wx = np.concatenate([a("W_xr"), a("W_xz"), a("W_xh")], axis=1)
    Wh = np.concatenate([a("W_hr"), a("W_hz"), a("W_hh")], axis=1)
    b = np.concatenate([a("b_r"), a("b_z"), a("b_h")])
    x = inputs.detach().numpy().transpose(1, 0, 2)  # (T, N, D) -> (N, T, D)
    h, cache = rr.gru_forward(x, H0.detach().numpy(), Wx, Wh, b, np.zeros(3 * H), reset_after=False)
    _assert_close(h, torch.stack(outputs).detach().numpy().transpose(1, 0, 2))
    dx, dh0, dWx, dWh, db, _ = rr.gru_backward(dh.transpose(1, 0, 2), cache)
    _assert_close(dx, inputs.grad.numpy().transpose(1, 0, 2))
    _assert_close(dh0, H0.grad.numpy())
    for ours, (r, z, n) in [(dWx, ("W_xr", "W_xz", "W_xh")), (dWh, ("W_hr", "W_hz", "W_hh"))]:
        for block, name in zip(_blocks(ours), (r, z, n), strict=True):
            _assert_close(block, p[name].grad.numpy())
    for block, name in zip(_blocks(db), ("b_r", "b_z", "b_h"), strict=True):
        _assert_close(block, p[name].grad.numpy())


# -- deep-learning-from-scratch-2 (common/time_layers.py, GRU and TimeGRU) ------------------------


def _dlfs2_forward(x, h0, Wx, Wh):
    """The book's GRU, no bias, columns z, r, h, and its update h = (1 - z) h_prev + z h^."""
    z_, r_, h_ = slice(0, H), slice(H, 2 * H), slice(2 * H, 3 * H)
    h_prev, states = h0, []
    for t in range(x.shape[1]):
        x_t = x[:, t]
        z = _sigmoid(x_t @ Wx[:, z_] + h_prev @ Wh[:, z_])
        r = _sigmoid(x_t @ Wx[:, r_] + h_prev @ Wh[:, r_])
        h_hat = np.tanh(x_t @ Wx[:, h_] + (r * h_prev) @ Wh[:, h_])
        h_prev = (1 - z) * h_prev + z * h_hat
        states.append(h_prev)
    return np.stack(states, axis=1)


def _from_dlfs2(W):
    """dlfs2's (., 3H) columns z, r, h as the core's r, z, n: its z is the core's 1 - z, and as
    sigmoid(-a) = 1 - sigmoid(a), its z weights are the core's negated."""
    z, r, h = _blocks(W)
    return np.concatenate([r, -z, h], axis=-1)


def _to_dlfs2(W):
    """The inverse of :func:`_from_dlfs2`: the core's r, z, n as dlfs2's z, r, h."""
    r, z, n = _blocks(W)
    return np.concatenate([-z, r, n], axis=-1)


def test_dlfs2_is_reset_after_false_without_bias_and_with_the_update_gate_flipped():
    rng = np.random.default_rng(1)
    x, h0 = rng.standard_normal((N, T, D)), rng.uniform(-1, 1, (N, H))
    Wx, Wh = rng.normal(0, 0.3, (D, 3 * H)), rng.normal(0, 0.3, (H, 3 * H))
    expected = _dlfs2_forward(x, h0, Wx, Wh)
    zeros = np.zeros(3 * H)
    h, cache = rr.gru_forward(
        x, h0, _from_dlfs2(Wx), _from_dlfs2(Wh), zeros, zeros, reset_after=False
    )
    _assert_close(h, expected)
    # the inverse map takes the gradients back (the flip's sign included), checked here against
    # central differences of dlfs2's forward
    dh = rng.standard_normal((N, T, H))
    _, _, dWx, dWh, _, _ = rr.gru_backward(dh, cache)
    step = 1e-6
    for ours, which in [(_to_dlfs2(dWx), "Wx"), (_to_dlfs2(dWh), "Wh")]:
        W = {"Wx": Wx, "Wh": Wh}[which]
        numeric = np.empty_like(W)
        for index in np.ndindex(W.shape):
            moved = {"Wx": Wx.copy(), "Wh": Wh.copy()}
            moved[which][index] += step
            plus = (_dlfs2_forward(x, h0, moved["Wx"], moved["Wh"]) * dh).sum()
            moved[which][index] -= 2 * step
            minus = (_dlfs2_forward(x, h0, moved["Wx"], moved["Wh"]) * dh).sum()
            numeric[index] = (plus - minus) / (2 * step)
        assert scaled_error(ours, numeric) < 1e-7, which


def test_the_flipped_update_gate_is_sigmoid_of_the_negated_pre_activation():
    a = np.linspace(-30, 30, 601)
    np.testing.assert_allclose(_sigmoid(-a), 1 - _sigmoid(a), rtol=0, atol=1e-15)


# -- Flax (flax.linen.GRUCell) -------------------------------------------------------------------


@pytest.fixture(scope="module")
def flax_and_jax():
    if importlib.util.find_spec("flax") is None:
        pytest.skip("flax is not installed (the jax oracle session installs it)")
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    import flax.linen
    import jax

    return flax.linen, jax


def test_flax_is_reset_after_true_with_the_rz_biases_summed(flax_and_jax):
    """Flax's GRUCell: one Dense per gate and side, ``ir``, ``iz``, ``in`` with bias, ``hr``,
    ``hz`` without, ``hn`` with; r = s(ir(x) + hr(h)), z = s(iz(x) + hz(h)),
    n = tanh(in(x) + r * hn(h)), h' = (1 - z) n + z h.

    Mapping: kernels are the core's column blocks; Flax's ``ir`` and ``iz`` biases are the core's
    ``b + bh`` of r and z, ``in`` is ``b_n`` and ``hn`` is ``bh_n``: torch's equations.
    """
    nn, jax = flax_and_jax
    a = gru_arrays(N, T, D, H, seed=2)
    Wx_r, Wx_z, Wx_n = _blocks(a["Wx"])
    Wh_r, Wh_z, Wh_n = _blocks(a["Wh"])
    b_r, b_z, b_n = _blocks(a["b"])
    bh_r, bh_z, bh_n = _blocks(a["bh"])
    params = {
        "params": {
            "ir": {"kernel": Wx_r, "bias": b_r + bh_r},
            "iz": {"kernel": Wx_z, "bias": b_z + bh_z},
            "in": {"kernel": Wx_n, "bias": b_n},
            "hr": {"kernel": Wh_r},
            "hz": {"kernel": Wh_z},
            "hn": {"kernel": Wh_n, "bias": bh_n},
        }
    }
    cell = nn.GRUCell(features=H, param_dtype=np.float64, dtype=np.float64)

    def run(params, x, h0):
        states, h = [], h0
        for t in range(T):
            h, out = cell.apply(params, h, x[:, t])
            states.append(out)
        return jax.numpy.stack(states, axis=1)

    with jax.enable_x64(True):
        states, pullback = jax.vjp(run, params, a["x"], a["h0"])
        grads, dx, dh0 = pullback(jax.numpy.asarray(a["dh"]))
        states, dx, dh0 = np.asarray(states), np.asarray(dx), np.asarray(dh0)
        grads = jax.tree_util.tree_map(np.asarray, grads)["params"]
    h, cache = rr.gru_forward(a["x"], a["h0"], a["Wx"], a["Wh"], a["b"], a["bh"])
    _assert_close(h, states)
    ours = dict(
        zip(["dx", "dh0", "dWx", "dWh", "db", "dbh"], rr.gru_backward(a["dh"], cache), strict=True)
    )
    _assert_close(ours["dx"], dx)
    _assert_close(ours["dh0"], dh0)
    for block, name in zip(_blocks(ours["dWx"]), ("ir", "iz", "in"), strict=True):
        _assert_close(block, grads[name]["kernel"])
    for block, name in zip(_blocks(ours["dWh"]), ("hr", "hz", "hn"), strict=True):
        _assert_close(block, grads[name]["kernel"])
    db_r, db_z, db_n = _blocks(ours["db"])
    for block, name in [(db_r, "ir"), (db_z, "iz"), (db_n, "in")]:
        _assert_close(block, grads[name]["bias"])  # Flax's summed bias: the core's db
    _assert_close(_blocks(ours["dbh"])[2], grads["hn"]["bias"])
