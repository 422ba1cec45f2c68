"""docs/lstm.md's layout table, each row tested: torch's weights in another convention's layout,
run through that convention's own equations, give the reference's states.

Each convention's step is transcribed here from its published code (the course's or framework's
source, cited in docs/lstm.md), in its own layout (column-major for Coursera, a carry (c, h) for
Flax, ONNX's [i o f c] rows with two biases), and fed the mapped weights. The reference runs on
torch's layout; the states must agree to rounding. A mapping with two gates swapped fails here.
"""

from __future__ import annotations

import numpy as np
import pytest

import reference_rnn as rr

N, T, D, H = 3, 5, 4, 6
TOLERANCE = 1e-13


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


@pytest.fixture
def torch_layout():
    """torch's parameters (rows i, f, g, o), x (N, T, D), h0, c0 (N, H)."""
    rng = np.random.default_rng(0)
    k = 1 / np.sqrt(H)
    return {
        "weight_ih": rng.uniform(-k, k, (4 * H, D)),
        "weight_hh": rng.uniform(-k, k, (4 * H, H)),
        "bias_ih": rng.uniform(-k, k, 4 * H),
        "bias_hh": rng.uniform(-k, k, 4 * H),
        "x": rng.standard_normal((N, T, D)),
        "h0": rng.uniform(-1, 1, (N, H)),
        "c0": rng.uniform(-1, 1, (N, H)),
    }


def reference(p):
    """The reference's h (N, T, H) and final c (N, H), on torch's layout."""
    h, cT, _ = rr.lstm_forward(
        p["x"], p["h0"], p["weight_ih"].T, p["weight_hh"].T, p["bias_ih"] + p["bias_hh"], p["c0"]
    )
    return h, cT


def blocks(a, order, axis=0):
    """``a``'s four gate blocks of H along ``axis``, from torch's i, f, g, o to ``order``."""
    torch_order = "ifgo"
    parts = np.split(a, 4, axis=axis)
    return np.concatenate([parts[torch_order.index(gate)] for gate in order], axis=axis)


def assert_same(h, cT, p):
    __tracebackhide__ = True
    expected_h, expected_c = reference(p)
    np.testing.assert_allclose(h, expected_h, rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(cT, expected_c, rtol=0, atol=TOLERANCE)


def test_cs231n_gate_order_i_f_o_g(torch_layout):
    """CS231n assignment 3, rnn_layers.py, lstm_step_forward: a = x @ Wx + prev_h @ Wh + b,
    i, f, o = sigmoid(a[:, :H]), sigmoid(a[:, H:2H]), sigmoid(a[:, 2H:3H]), g = tanh(a[:, 3H:])."""
    p = torch_layout
    Wx = blocks(p["weight_ih"], "ifog").T  # (D, 4H)
    Wh = blocks(p["weight_hh"], "ifog").T  # (H, 4H)
    b = blocks(p["bias_ih"] + p["bias_hh"], "ifog")
    h, c = p["h0"], p["c0"]
    hs = []
    for t in range(T):
        a = p["x"][:, t] @ Wx + h @ Wh + b
        i, f, o = sigmoid(a[:, :H]), sigmoid(a[:, H : 2 * H]), sigmoid(a[:, 2 * H : 3 * H])
        g = np.tanh(a[:, 3 * H :])
        c = f * c + i * g
        h = o * np.tanh(c)
        hs.append(h)
    assert_same(np.stack(hs, 1), c, p)


def test_keras_gate_order_i_f_c_o_one_bias(torch_layout):
    """Keras 3, keras/src/layers/rnn/lstm.py, LSTMCell.call: z = inputs @ kernel + h_tm1 @
    recurrent_kernel + bias, split in four: i, f, c, o (c is torch's g); recurrent_activation
    sigmoid, activation tanh. kernel (D, 4H), recurrent_kernel (H, 4H), one bias (4H,); states
    [h, c]. unit_forget_bias=True is only the initialiser's +1 on the forget slice."""
    p = torch_layout
    kernel = p["weight_ih"].T  # i, f, c, o = torch's i, f, g, o
    recurrent_kernel = p["weight_hh"].T
    bias = p["bias_ih"] + p["bias_hh"]
    h, c = p["h0"], p["c0"]
    hs = []
    for t in range(T):
        z = p["x"][:, t] @ kernel + h @ recurrent_kernel + bias
        z0, z1, z2, z3 = np.split(z, 4, axis=-1)
        i, f = sigmoid(z0), sigmoid(z1)
        c = f * c + i * np.tanh(z2)
        o = sigmoid(z3)
        h = o * np.tanh(c)
        hs.append(h)
    assert_same(np.stack(hs, 1), c, p)


def test_onnx_gate_order_i_o_f_c_and_two_biases(torch_layout):
    """ONNX LSTM (operator spec): W [num_directions, 4H, D], R [num_directions, 4H, H] in the
    order i, o, f, c; B [num_directions, 8H] = [Wb, Rb]; it = f(Xt W_i^T + Ht-1 R_i^T + Wb_i +
    Rb_i), ..., Ct = ft * Ct-1 + it * ct, Ht = ot * h(Ct); no peepholes; time-major X."""
    p = torch_layout
    W = blocks(p["weight_ih"], "iofg")[None]  # (1, 4H, D)
    R = blocks(p["weight_hh"], "iofg")[None]
    B = np.concatenate([blocks(p["bias_ih"], "iofg"), blocks(p["bias_hh"], "iofg")])[None]
    X = p["x"].transpose(1, 0, 2)  # (T, N, D): ONNX's layout 0
    Wi, Wo, Wf, Wc = np.split(W[0], 4)
    Ri, Ro, Rf, Rc = np.split(R[0], 4)
    Wbi, Wbo, Wbf, Wbc, Rbi, Rbo, Rbf, Rbc = np.split(B[0], 8)
    Ht, Ct = p["h0"], p["c0"]
    Y = []
    for Xt in X:
        it = sigmoid(Xt @ Wi.T + Ht @ Ri.T + Wbi + Rbi)
        ft = sigmoid(Xt @ Wf.T + Ht @ Rf.T + Wbf + Rbf)
        ct = np.tanh(Xt @ Wc.T + Ht @ Rc.T + Wbc + Rbc)
        Ct = ft * Ct + it * ct
        ot = sigmoid(Xt @ Wo.T + Ht @ Ro.T + Wbo + Rbo)
        Ht = ot * np.tanh(Ct)
        Y.append(Ht)
    assert_same(np.stack(Y, 1), Ct, p)


def test_flax_per_gate_dense_layers_and_carry_c_h(torch_layout):
    """Flax linen LSTMCell.__call__: carry (c, h); i = sigmoid(ii(x) + hi(h)), f = sigmoid(if(x)
    + hf(h)), g = tanh(ig(x) + hg(h)), o = sigmoid(io(x) + ho(h)); the input Dense layers have no
    bias, the hidden ones a bias: kernels (D, H) and (H, H); returns (new_c, new_h), new_h."""
    p = torch_layout
    params = {}
    for gate, W_ih, W_hh, b_ih, b_hh in zip(
        "ifgo",
        np.split(p["weight_ih"], 4),
        np.split(p["weight_hh"], 4),
        np.split(p["bias_ih"], 4),
        np.split(p["bias_hh"], 4),
        strict=True,
    ):
        params[f"i{gate}"] = {"kernel": W_ih.T}
        params[f"h{gate}"] = {"kernel": W_hh.T, "bias": b_ih + b_hh}

    def dense(name, value):
        out = value @ params[name]["kernel"]
        return out + params[name]["bias"] if "bias" in params[name] else out

    carry = (p["c0"], p["h0"])
    hs = []
    for t in range(T):
        c, h = carry
        x = p["x"][:, t]
        i = sigmoid(dense("ii", x) + dense("hi", h))
        f = sigmoid(dense("if", x) + dense("hf", h))
        g = np.tanh(dense("ig", x) + dense("hg", h))
        o = sigmoid(dense("io", x) + dense("ho", h))
        new_c = f * c + i * g
        new_h = o * np.tanh(new_c)
        carry = (new_c, new_h)
        hs.append(new_h)
    assert_same(np.stack(hs, 1), carry[0], p)


def test_dlfs2_gate_order_f_g_i_o(torch_layout):
    """deep-learning-from-scratch-2, common/time_layers.py, LSTM.forward: A = x @ Wx + h_prev @ Wh
    + b; f = A[:, :H], g = A[:, H:2H], i = A[:, 2H:3H], o = A[:, 3H:]; c_next = f * c_prev + g * i,
    h_next = o * tanh(c_next)."""
    p = torch_layout
    Wx = blocks(p["weight_ih"], "fgio").T
    Wh = blocks(p["weight_hh"], "fgio").T
    b = blocks(p["bias_ih"] + p["bias_hh"], "fgio")
    h_prev, c_prev = p["h0"], p["c0"]
    hs = []
    for t in range(T):
        A = p["x"][:, t] @ Wx + h_prev @ Wh + b
        f, g, i, o = A[:, :H], A[:, H : 2 * H], A[:, 2 * H : 3 * H], A[:, 3 * H :]
        f, g, i, o = sigmoid(f), np.tanh(g), sigmoid(i), sigmoid(o)
        c_prev = f * c_prev + g * i
        h_prev = o * np.tanh(c_prev)
        hs.append(h_prev)
    assert_same(np.stack(hs, 1), c_prev, p)


def test_coursera_separate_matrices_over_a_prev_and_x(torch_layout):
    """Deep Learning Specialization, course 5 week 1, lstm_cell_forward: concat = [a_prev; xt]
    (n_a + n_x, m); ft = sigmoid(Wf @ concat + bf), it likewise, cct = tanh(Wc @ concat + bc),
    c_next = ft * c_prev + it * cct, ot = sigmoid(Wo @ concat + bo), a_next = ot * tanh(c_next).
    Wf (n_a, n_a + n_x), bf (n_a, 1); column-major: xt (n_x, m), a (n_a, m)."""
    p = torch_layout
    b = p["bias_ih"] + p["bias_hh"]
    parameters = {}
    for k, name in enumerate(["i", "f", "c", "o"]):  # torch's rows i, f, g, o; the course's c is g
        rows = slice(k * H, (k + 1) * H)
        parameters[f"W{name}"] = np.concatenate(
            [p["weight_hh"][rows], p["weight_ih"][rows]], axis=1
        )  # (n_a, n_a + n_x): a_prev's columns first
        parameters[f"b{name}"] = b[rows][:, None]  # (n_a, 1)
    a_prev, c_prev = p["h0"].T, p["c0"].T  # (n_a, m)
    a = []
    for t in range(T):
        xt = p["x"][:, t].T  # (n_x, m)
        concat = np.concatenate([a_prev, xt], axis=0)
        ft = sigmoid(parameters["Wf"] @ concat + parameters["bf"])
        it = sigmoid(parameters["Wi"] @ concat + parameters["bi"])
        cct = np.tanh(parameters["Wc"] @ concat + parameters["bc"])
        c_prev = ft * c_prev + it * cct
        ot = sigmoid(parameters["Wo"] @ concat + parameters["bo"])
        a_prev = ot * np.tanh(c_prev)
        a.append(a_prev)
    a = np.stack(a, axis=2)  # (n_a, m, T_x), the course's layout
    assert_same(a.transpose(1, 2, 0), c_prev.T, p)


def test_a_swapped_mapping_fails(torch_layout):
    """The tests have teeth: CS231n's weights with g and o left in torch's order differ."""
    p = torch_layout
    Wx, Wh = p["weight_ih"].T, p["weight_hh"].T  # not reordered: read as i, f, o, g
    b = p["bias_ih"] + p["bias_hh"]
    a = p["x"][:, 0] @ Wx + p["h0"] @ Wh + b
    c = sigmoid(a[:, H : 2 * H]) * p["c0"] + sigmoid(a[:, :H]) * np.tanh(a[:, 3 * H :])
    h = sigmoid(a[:, 2 * H : 3 * H]) * np.tanh(c)
    expected, _ = reference(p)
    assert np.abs(h - expected[:, 0]).max() > 1e-3
