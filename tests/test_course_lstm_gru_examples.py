"""The courses' LSTM and GRU exercises, written from their equations in examples/, equal the core.

Each example is an implementation of its own, in its course's layout (gate order, column layout,
separate matrices, the flipped update gate), so agreement with the core in float64 and float32,
forward and backward with an arbitrary upstream gradient, checks both; the layout mappings are the
ones docs/lstm.md and docs/gru.md give.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

import reference_rnn as rr

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
N, T, D, H = 3, 4, 5, 2
TOLERANCE = {np.float64: 1e-12, np.float32: 2e-5}
DTYPES = pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])


def _example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _close(ours: object, expected: object, dtype: type) -> None:
    np.testing.assert_allclose(np.asarray(ours), expected, rtol=0, atol=TOLERANCE[dtype])


def _blocks(W: np.ndarray, order: list[int]) -> np.ndarray:
    """``W``'s column blocks of width H, taken in ``order`` (a permutation of the gates)."""
    return np.concatenate([W[..., k * H : (k + 1) * H] for k in order], axis=-1)


def _arrays(dtype: type, gates: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    shapes = {
        "x": (N, T, D),
        "h0": (N, H),
        "c0": (N, H),
        "Wx": (D, gates * H),
        "Wh": (H, gates * H),
        "b": (gates * H,),
        "bh": (gates * H,),
        "dh": (N, T, H),
        "dc": (N, H),
    }
    return {name: rng.normal(0, 0.7, shape).astype(dtype) for name, shape in shapes.items()}


# CS231n's gates i, f, o, g; the core's (torch's) i, f, g, o: the same swap both ways
CS231N = [0, 1, 3, 2]


@DTYPES
def test_cs231n_lstm_step_functions(dtype):
    cs = _example("cs231n_lstm_layers")
    a = _arrays(dtype, 4)
    x, h, c, Wx, Wh, b = a["x"][:, 0], a["h0"], a["c0"], a["Wx"], a["Wh"], a["b"]
    next_h, next_c, cache = cs.lstm_step_forward(
        x, h, c, _blocks(Wx, CS231N), _blocks(Wh, CS231N), _blocks(b, CS231N)
    )
    h1, c1, ref = rr.lstm_step_forward(x, h, c, Wx, Wh, b)
    _close(next_h, h1, dtype)
    _close(next_c, c1, dtype)
    grads = cs.lstm_step_backward(a["dh"][:, 0], a["dc"], cache)
    expected = rr.lstm_step_backward(a["dh"][:, 0], a["dc"], ref)
    for ours, theirs in zip(grads[:3], expected[:3], strict=True):
        _close(ours, theirs, dtype)
    for ours, theirs in zip(grads[3:], expected[3:], strict=True):
        _close(_blocks(ours, CS231N), theirs, dtype)


@DTYPES
def test_cs231n_lstm_sequence_functions(dtype):
    cs = _example("cs231n_lstm_layers")
    a = _arrays(dtype, 4)
    c0 = np.zeros_like(a["h0"])  # the assignment's lstm_forward starts from zeros
    weights = [_blocks(a[k], CS231N) for k in ("Wx", "Wh", "b")]
    h, cache = cs.lstm_forward(a["x"], a["h0"], *weights)
    expected_h, _, ref = rr.lstm_forward(a["x"], a["h0"], a["Wx"], a["Wh"], a["b"], c0)
    _close(h, expected_h, dtype)
    assert h.dtype == dtype
    dx, dh0, dWx, dWh, db = cs.lstm_backward(a["dh"], cache)
    e_dx, e_dh0, _, e_dWx, e_dWh, e_db = rr.lstm_backward(a["dh"], None, ref)
    _close(dx, e_dx, dtype)
    _close(dh0, e_dh0, dtype)
    for ours, theirs in zip((dWx, dWh, db), (e_dWx, e_dWh, e_db), strict=True):
        _close(_blocks(ours, CS231N), theirs, dtype)


# Coursera's gates by name, and where each is in the core's i, f, g, o
COURSERA = {"f": 1, "i": 0, "c": 2, "o": 3}


def _coursera_parameters(a: dict[str, np.ndarray], Wy: np.ndarray, by: np.ndarray) -> dict:
    """The core's weights as Coursera's: W_gate (H, H + D) over [a_prev; xt], b_gate (H, 1)."""
    p = {"Wy": Wy, "by": by}
    for gate, k in COURSERA.items():
        block = slice(k * H, (k + 1) * H)
        p[f"W{gate}"] = np.concatenate([a["Wh"][:, block].T, a["Wx"][:, block].T], axis=1)
        p[f"b{gate}"] = a["b"][block].reshape(H, 1)
    return p


def _as_coursera(dWx: np.ndarray, dWh: np.ndarray, db: np.ndarray) -> dict[str, np.ndarray]:
    """The core's weight gradients in Coursera's names and layout."""
    grads = {}
    for gate, k in COURSERA.items():
        block = slice(k * H, (k + 1) * H)
        grads[f"dW{gate}"] = np.concatenate([dWh[:, block].T, dWx[:, block].T], axis=1)
        grads[f"db{gate}"] = db[block].reshape(H, 1)
    return grads


def _softmax_readout(h: np.ndarray, Wy: np.ndarray, by: np.ndarray) -> np.ndarray:
    """softmax(Wy @ h_t + by) for every state h (N, T, H): (n_y, N, T), with float64 sums."""
    z = np.einsum("yh,nth->ynt", Wy.astype(np.float64), h.astype(np.float64)) + by[:, :, None]
    e = np.exp(z - z.max(axis=0))
    return e / e.sum(axis=0)


@DTYPES
def test_coursera_lstm_cell_functions(dtype):
    co = _example("coursera_lstm_step_by_step")
    a = _arrays(dtype, 4)
    Wy, by = _arrays(dtype, 4, seed=1)["Wh"][:, :3].T, np.full((3, 1), 0.1, dtype)  # n_y = 3
    p = _coursera_parameters(a, Wy, by)
    x, h, c = a["x"][:, 0], a["h0"], a["c0"]
    a_next, c_next, yt, cache = co.lstm_cell_forward(x.T, h.T, c.T, p)
    h1, c1, ref = rr.lstm_step_forward(x, h, c, a["Wx"], a["Wh"], a["b"])
    _close(a_next, h1.T, dtype)
    _close(c_next, c1.T, dtype)
    _close(yt, _softmax_readout(h1[:, None], Wy, by)[:, :, 0], dtype)
    grads = co.lstm_cell_backward(a["dh"][:, 0].T, a["dc"].T, cache)
    dx, dh, dc, dWx, dWh, db = rr.lstm_step_backward(a["dh"][:, 0], a["dc"], ref)
    expected = {"dxt": dx.T, "da_prev": dh.T, "dc_prev": dc.T} | _as_coursera(dWx, dWh, db)
    assert set(grads) == set(expected)
    for name, value in expected.items():
        _close(grads[name], value, dtype)


@DTYPES
def test_coursera_lstm_forward_and_backward(dtype):
    co = _example("coursera_lstm_step_by_step")
    a = _arrays(dtype, 4)
    Wy, by = _arrays(dtype, 4, seed=1)["Wh"][:, :3].T, np.full((3, 1), 0.1, dtype)
    x_columns = a["x"].transpose(2, 0, 1)  # (N, T, D) -> (D, N, T): an example per column
    states, y, cells, caches = co.lstm_forward(
        x_columns, a["h0"].T, _coursera_parameters(a, Wy, by)
    )
    h, cT, ref = rr.lstm_forward(a["x"], a["h0"], a["Wx"], a["Wh"], a["b"], np.zeros_like(a["h0"]))
    _close(states, h.transpose(2, 0, 1), dtype)
    _close(cells[:, :, -1], cT.T, dtype)
    _close(y, _softmax_readout(h, Wy, by), dtype)
    assert states.dtype == dtype
    grads = co.lstm_backward(a["dh"].transpose(2, 0, 1), caches)
    dx, dh0, _, dWx, dWh, db = rr.lstm_backward(a["dh"], None, ref)
    expected = {"dx": dx.transpose(2, 0, 1), "da0": dh0.T} | _as_coursera(dWx, dWh, db)
    assert set(grads) == set(expected)
    for name, value in expected.items():
        _close(grads[name], value, dtype)


# the book's LSTM gates f, g, i, o: the core's i, f, g, o are its blocks 2, 0, 1, 3, and back
DLFS2_TO_CORE, CORE_TO_DLFS2 = [2, 0, 1, 3], [1, 2, 0, 3]


@DTYPES
def test_dlfs2_lstm_step(dtype):
    book = _example("dlfs2_time_lstm_gru")
    a = _arrays(dtype, 4)
    layer = book.LSTM(*(_blocks(a[k], CORE_TO_DLFS2) for k in ("Wx", "Wh", "b")))
    x, h, c = a["x"][:, 0], a["h0"], a["c0"]
    h1, c1 = layer.forward(x, h, c)
    e_h1, e_c1, ref = rr.lstm_step_forward(x, h, c, a["Wx"], a["Wh"], a["b"])
    _close(h1, e_h1, dtype)
    _close(c1, e_c1, dtype)
    dx, dh, dc = layer.backward(a["dh"][:, 0], a["dc"])
    expected = rr.lstm_step_backward(a["dh"][:, 0], a["dc"], ref)
    for ours, theirs in zip((dx, dh, dc), expected[:3], strict=True):
        _close(ours, theirs, dtype)
    for ours, theirs in zip(layer.grads, expected[3:], strict=True):
        _close(_blocks(ours, DLFS2_TO_CORE), theirs, dtype)


@DTYPES
def test_dlfs2_time_lstm_from_a_set_state_in_two_blocks(dtype):
    book = _example("dlfs2_time_lstm_gru")
    a = _arrays(dtype, 4)
    layer = book.TimeLSTM(*(_blocks(a[k], CORE_TO_DLFS2) for k in ("Wx", "Wh", "b")), stateful=True)
    layer.set_state(a["h0"], a["c0"])
    hs = np.concatenate([layer.forward(a["x"][:, :2]), layer.forward(a["x"][:, 2:])], axis=1)
    h, _, ref = rr.lstm_forward(a["x"], a["h0"], a["Wx"], a["Wh"], a["b"], a["c0"])
    _close(hs, h, dtype)
    assert hs.dtype == dtype
    # the backward of one call: the whole sequence again, from the same state
    layer.set_state(a["h0"], a["c0"])
    layer.forward(a["x"])
    dxs = layer.backward(a["dh"])
    dx, dh0, _, dWx, dWh, db = rr.lstm_backward(a["dh"], None, ref)
    _close(dxs, dx, dtype)
    _close(layer.dh, dh0, dtype)
    for ours, theirs in zip(layer.grads, (dWx, dWh, db), strict=True):
        _close(_blocks(ours, DLFS2_TO_CORE), theirs, dtype)


def _as_dlfs2_gru(W: np.ndarray) -> np.ndarray:
    """The core's r, z, n columns as the book's z, r, h: its update gate is 1 - z, and
    1 - sigmoid(s) = sigmoid(-s), so its z columns are the core's negated (and so their
    gradients)."""
    return _blocks(W, [1, 0, 2]) * np.repeat([-1, 1, 1], H)


def _dlfs2_gru_weights(a: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    return _as_dlfs2_gru(a["Wx"]), _as_dlfs2_gru(a["Wh"])


def _no_bias(a: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return a | {"b": np.zeros_like(a["b"]), "bh": np.zeros_like(a["bh"])}


@DTYPES
def test_dlfs2_gru_step(dtype):
    book = _example("dlfs2_time_lstm_gru")
    a = _no_bias(_arrays(dtype, 3))
    layer = book.GRU(*_dlfs2_gru_weights(a))
    x, h = a["x"][:, 0], a["h0"]
    args = (a["Wx"], a["Wh"], a["b"], a["bh"])
    e_h1, ref = rr.gru_step_forward(x, h, *args, reset_after=False)
    _close(layer.forward(x, h), e_h1, dtype)
    dx, dh = layer.backward(a["dh"][:, 0])
    e_dx, e_dh, e_dWx, e_dWh, _, _ = rr.gru_step_backward(a["dh"][:, 0], ref)
    _close(dx, e_dx, dtype)
    _close(dh, e_dh, dtype)
    _close(layer.dWx, _as_dlfs2_gru(e_dWx), dtype)
    _close(layer.dWh, _as_dlfs2_gru(e_dWh), dtype)


@DTYPES
def test_dlfs2_time_gru_from_a_set_state_in_two_blocks(dtype):
    book = _example("dlfs2_time_lstm_gru")
    a = _no_bias(_arrays(dtype, 3))
    layer = book.TimeGRU(*_dlfs2_gru_weights(a), stateful=True)
    layer.set_state(a["h0"])
    hs = np.concatenate([layer.forward(a["x"][:, :1]), layer.forward(a["x"][:, 1:])], axis=1)
    args = (a["Wx"], a["Wh"], a["b"], a["bh"])
    h, ref = rr.gru_forward(a["x"], a["h0"], *args, reset_after=False)
    _close(hs, h, dtype)
    layer.set_state(a["h0"])
    layer.forward(a["x"])
    dxs = layer.backward(a["dh"])
    dx, dh0, dWx, dWh, _, _ = rr.gru_backward(a["dh"], ref)
    _close(dxs, dx, dtype)
    _close(layer.dh, dh0, dtype)
    _close(layer.dWx, _as_dlfs2_gru(dWx), dtype)
    _close(layer.dWh, _as_dlfs2_gru(dWh), dtype)


def _torch() -> ModuleType:
    return pytest.importorskip("torch")


def _autograd(torch: ModuleType, run, arrays: dict[str, np.ndarray], upstream: np.ndarray):
    """run(**tensors)'s value, and the gradients of sum(value * upstream) by the tensors' names."""
    tensors = {k: torch.tensor(v, requires_grad=True) for k, v in arrays.items()}
    value = run(**tensors)
    (value * torch.from_numpy(upstream)).sum().backward()
    return value.detach().numpy(), {k: t.grad.numpy() for k, t in tensors.items()}


@DTYPES
def test_eecs498_lstm_functions_and_class(dtype):
    torch = _torch()
    eecs = _example("eecs498_lstm_torch")
    a = _arrays(dtype, 4)
    weights = {k: _blocks(a[k], CS231N) for k in ("Wx", "Wh", "b")}
    h, grads = _autograd(torch, eecs.lstm_forward, {"x": a["x"], "h0": a["h0"]} | weights, a["dh"])
    expected_h, _, ref = rr.lstm_forward(a["x"], a["h0"], a["Wx"], a["Wh"], a["b"], None)
    _close(h, expected_h, dtype)
    dx, dh0, _, dWx, dWh, db = rr.lstm_backward(a["dh"], None, ref)
    _close(grads["x"], dx, dtype)
    _close(grads["h0"], dh0, dtype)
    for name, expected in {"Wx": dWx, "Wh": dWh, "b": db}.items():
        _close(_blocks(grads[name], CS231N), expected, dtype)
    # the class: its weights set on the instance, as a checker sets them
    layer = eecs.LSTM(D, H, dtype=getattr(torch, np.dtype(dtype).name))
    with torch.no_grad():
        for name, value in weights.items():
            getattr(layer, name).copy_(torch.from_numpy(value))
    x, h0 = torch.from_numpy(a["x"]), torch.from_numpy(a["h0"])
    _close(layer(x, h0).detach().numpy(), expected_h, dtype)
    next_h, next_c = layer.step_forward(x[:, 0], h0, torch.from_numpy(a["c0"]))
    e_h1, e_c1, _ = rr.lstm_step_forward(a["x"][:, 0], a["h0"], a["c0"], a["Wx"], a["Wh"], a["b"])
    _close(next_h.detach().numpy(), e_h1, dtype)
    _close(next_c.detach().numpy(), e_c1, dtype)


def _d2l_readout(dtype: type) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(5)
    return {
        "W_hq": rng.normal(0, 0.7, (H, 3)).astype(dtype),
        "b_q": rng.normal(0, 0.7, 3).astype(dtype),
    }


def _d2l_gates(a: dict[str, np.ndarray], blocks: dict[str, int]) -> dict[str, np.ndarray]:
    """d2l's matrices per gate (``W_x*``, ``W_h*``, ``b_*``), the core's column blocks."""
    gates = {}
    for gate, k in blocks.items():
        block = slice(k * H, (k + 1) * H)
        gates[f"W_x{gate}"], gates[f"W_h{gate}"] = a["Wx"][:, block], a["Wh"][:, block]
        gates[f"b_{gate}"] = a["b"][block]
    return gates


def _check_d2l(torch, run, a, given, h, final, backward, blocks, dtype):
    """``run``'s outputs, final state and autograd gradients against the core's: its states
    ``h (N, T, H)`` and ``final`` states, and ``backward(dh)``'s (dx, dh0, dWx, dWh, db...)."""
    q = _d2l_readout(dtype)
    dy = np.random.default_rng(6).normal(0, 1, (T * N, 3)).astype(dtype)  # dL/dY, (T * N, q)
    states = []

    def outputs(**tensors):
        Y, state = run(**tensors)
        states.extend(s.detach().numpy() for s in state)
        return Y

    Y, grads = _autograd(torch, outputs, given | _d2l_gates(a, blocks) | q, dy)
    h64 = h.astype(np.float64).transpose(1, 0, 2).reshape(T * N, H)  # time-major rows, as d2l's
    _close(Y, h64 @ q["W_hq"].astype(np.float64) + q["b_q"], dtype)
    for ours, theirs in zip(states, final, strict=True):
        _close(ours, theirs, dtype)
    dh = (
        (dy.astype(np.float64) @ q["W_hq"].T.astype(np.float64)).reshape(T, N, H).transpose(1, 0, 2)
    )
    dx, dh0, *weights = backward(dh.astype(dtype))
    _close(grads["x"], dx.transpose(1, 0, 2), dtype)
    _close(grads["h0"], dh0, dtype)
    _close(grads["W_hq"], h64.T @ dy, dtype)
    _close(grads["b_q"], dy.sum(axis=0), dtype)
    dWx, dWh, db = weights
    _close(
        np.concatenate([grads[f"W_x{g}"] for g in blocks], axis=1),
        _blocks(dWx, list(blocks.values())),
        dtype,
    )
    _close(
        np.concatenate([grads[f"W_h{g}"] for g in blocks], axis=1),
        _blocks(dWh, list(blocks.values())),
        dtype,
    )
    _close(
        np.concatenate([grads[f"b_{g}"] for g in blocks]), _blocks(db, list(blocks.values())), dtype
    )


@DTYPES
def test_d2l_lstm(dtype):
    torch = _torch()
    d2l = _example("d2l_lstm_gru_scratch")
    a = _arrays(dtype, 4)
    blocks = {"i": 0, "f": 1, "o": 3, "c": 2}  # d2l's order of params; the core's i, f, g, o
    order = [f"{w}{g}" for g in blocks for w in ("W_x", "W_h", "b_")] + ["W_hq", "b_q"]

    def run(x, h0, c0, **params):
        return d2l.lstm(x, (h0, c0), [params[name] for name in order])

    h, cT, ref = rr.lstm_forward(a["x"], a["h0"], a["Wx"], a["Wh"], a["b"], a["c0"])

    def backward(dh):
        dx, dh0, _, dWx, dWh, db = rr.lstm_backward(dh, None, ref)
        return dx, dh0, dWx, dWh, db

    given = {"x": a["x"].transpose(1, 0, 2), "h0": a["h0"], "c0": a["c0"]}  # time-major x
    _check_d2l(torch, run, a, given, h, (h[:, -1], cT), backward, blocks, dtype)


@DTYPES
def test_d2l_gru(dtype):
    torch = _torch()
    d2l = _example("d2l_lstm_gru_scratch")
    a = _arrays(dtype, 3)
    a["bh"] = np.zeros_like(a["bh"])  # d2l has one bias per gate: the core's b + bh
    blocks = {"z": 1, "r": 0, "h": 2}  # d2l's order of params; the core's r, z, n
    order = [f"{w}{g}" for g in blocks for w in ("W_x", "W_h", "b_")] + ["W_hq", "b_q"]

    def run(x, h0, **params):
        return d2l.gru(x, (h0,), [params[name] for name in order])

    args = (a["Wx"], a["Wh"], a["b"], a["bh"])
    h, ref = rr.gru_forward(a["x"], a["h0"], *args, reset_after=False)

    def backward(dh):
        dx, dh0, dWx, dWh, db, _ = rr.gru_backward(dh, ref)
        return dx, dh0, dWx, dWh, db

    given = {"x": a["x"].transpose(1, 0, 2), "h0": a["h0"]}
    _check_d2l(torch, run, a, given, h, (h[:, -1],), backward, blocks, dtype)
