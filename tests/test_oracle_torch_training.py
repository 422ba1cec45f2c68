"""The torch training oracle against closed forms written here: first steps, clipping, one block.

Every expected value is computed by hand in NumPy from the documented update rules and the
recurrence, never by reference_rnn.
"""

from __future__ import annotations

import ast
import inspect
import math
from types import ModuleType

import numpy as np
import pytest

from reference_rnn.oracles import torch_training

RTOL = 1e-14


def _assert_close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=0)


def test_it_imports_nothing_of_reference_rnns_computation():
    tree = ast.parse(inspect.getsource(torch_training))
    imported = {
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module is not None
    } | {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    ours = {name for name in imported if name.startswith("reference_rnn")}
    assert ours == {"reference_rnn.oracles", "reference_rnn.oracles.torch"}


def _problem():
    rng = np.random.default_rng(0)
    params = {"w": rng.uniform(-0.5, 0.5, (2, 3)), "b": rng.uniform(-0.5, 0.5, 3)}
    grads = [{k: rng.standard_normal(v.shape) for k, v in params.items()} for _ in range(2)]
    return params, grads


@pytest.mark.parametrize(
    ("name", "options", "first_step"),
    [
        # p - lr * g
        ("SGD", {"lr": 0.1}, lambda g: 0.1 * g),
        # sum = g^2: p - lr * g / (|g| + eps)
        ("Adagrad", {"lr": 0.1}, lambda g: 0.1 * g / (np.abs(g) + 1e-10)),
        # v = (1 - alpha) g^2: p - lr * g / (sqrt(1 - alpha) |g| + eps)
        ("RMSprop", {"lr": 0.01}, lambda g: 0.01 * g / (math.sqrt(0.01) * np.abs(g) + 1e-8)),
        # bias-corrected m = g and v = g^2: p - lr * g / (|g| + eps), whatever the betas
        ("Adam", {"lr": 0.1, "betas": (0.5, 0.6)}, lambda g: 0.1 * g / (np.abs(g) + 1e-8)),
    ],
)
def test_the_first_step_of_each_optimizer_is_its_closed_form(
    torch: ModuleType, name, options, first_step
):
    params, grads = _problem()
    before = {k: v.copy() for k, v in params.items()}
    history = torch_training.optimizer_steps(name, options, params, grads[:1])
    assert len(history) == 1
    for key, value in params.items():
        np.testing.assert_array_equal(value, before[key])  # the caller's arrays are not touched
        _assert_close(history[0][key], value - first_step(grads[0][key]))


def test_sgd_with_momentum_keeps_a_buffer_across_steps(torch: ModuleType):
    params, (g1, g2) = _problem()
    history = torch_training.optimizer_steps("SGD", {"lr": 0.1, "momentum": 0.9}, params, [g1, g2])
    for key, p in params.items():
        after_one = p - 0.1 * g1[key]  # the buffer starts at the first gradient
        _assert_close(history[0][key], after_one)
        _assert_close(history[1][key], after_one - 0.1 * (0.9 * g1[key] + g2[key]))


GRADS = {"a": np.array([3.0, -4.0]), "b": np.array([[12.0]])}


@pytest.mark.parametrize(("norm_type", "total"), [(2.0, 13.0), (1.0, 19.0), (math.inf, 12.0)])
def test_clip_grad_norm_scales_by_max_norm_over_the_total_plus_1e_6(
    torch: ModuleType, norm_type, total
):
    clipped, measured = torch_training.clip_grad_norm(GRADS, 1.0, norm_type)
    assert measured == pytest.approx(total, rel=RTOL)
    for key, g in GRADS.items():
        _assert_close(clipped[key], g * (1.0 / (total + 1e-6)))
    alone, measured = torch_training.clip_grad_norm(GRADS, 100.0, norm_type)
    assert measured == pytest.approx(total, rel=RTOL)
    for key, g in GRADS.items():
        np.testing.assert_array_equal(alone[key], g)
    np.testing.assert_array_equal(GRADS["a"], [3.0, -4.0])  # the caller's arrays are not touched


def test_clip_grad_value_clips_each_entry(torch: ModuleType):
    clipped = torch_training.clip_grad_value(GRADS, 3.5)
    np.testing.assert_array_equal(clipped["a"], [3.0, -3.5])
    np.testing.assert_array_equal(clipped["b"], [[3.5]])


def _weights(D, H, K=None, seed=1):
    rng = np.random.default_rng(seed)
    weights = [rng.uniform(-0.7, 0.7, shape) for shape in [(D, H), (H, H), (H,)]]
    if K is not None:
        weights += [rng.uniform(-0.7, 0.7, shape) for shape in [(H, K), (K,)]]
    return weights


@pytest.mark.parametrize("return_sequences", [False, True])
def test_truncated_bptt_carries_the_state_and_stops_the_gradient(
    torch: ModuleType, return_sequences
):
    """Two blocks of one step, by hand: h = tanh(x Wx + h_prev Wh + b), da = dout (1 - h^2)."""
    N, D, H = 2, 3, 4
    Wx, Wh, b = _weights(D, H)
    rng = np.random.default_rng(2)
    xs = rng.standard_normal((2, N, 1, D))
    douts = rng.standard_normal((2, N, H))
    blocks = [
        (x, dout[:, None] if return_sequences else dout) for x, dout in zip(xs, douts, strict=True)
    ]
    results = torch_training.truncated_bptt(Wx, Wh, b, blocks, return_sequences)
    assert len(results) == 2
    h_prev = np.zeros((N, H))
    for (x, dout), result in zip(zip(xs, douts, strict=True), results, strict=True):
        h = np.tanh(x[:, 0] @ Wx + h_prev @ Wh + b)
        da = dout * (1 - h**2)  # nothing comes from a later step: T = 1
        expected = {
            "out": h[:, None] if return_sequences else h,
            "dx": (da @ Wx.T)[:, None],
            "dh_prev": da @ Wh.T,  # the gradient stops here: it does not reach the last block
            "dWx": x[:, 0].T @ da,
            "dWh": h_prev.T @ da,
            "db": da.sum(axis=0),
            "h_n": h,
        }
        assert set(result) == set(expected)
        for key, value in expected.items():
            np.testing.assert_allclose(result[key], value, rtol=0, atol=1e-15, err_msg=key)
        h_prev = h
    assert np.abs(results[1]["dWh"]).max() > 0.01  # the second block started from a state


def test_a_classifier_step_is_cross_entropy_clipping_and_sgd(torch: ModuleType):
    """One step of one time step, by hand: the loss, the five gradients, the clip, the update."""
    N, D, H, K = 5, 3, 4, 3
    Wx, Wh, b, W, c = _weights(D, H, K)
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((N, 1, D)), np.array([0, 2, 1, 2, 2])
    params = {"rnn.Wx": Wx, "rnn.Wh": Wh, "rnn.b": b, "fc.W": W, "fc.b": c}

    h = np.tanh(x[:, 0] @ Wx + b)  # from h0 = 0
    logits = h @ W + c
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    loss = -np.log(p[np.arange(N), y]).mean()
    dlogits = (p - np.eye(K)[y]) / N
    da = (dlogits @ W.T) * (1 - h**2)
    grads = {
        "rnn.Wx": x[:, 0].T @ da,
        "rnn.Wh": np.zeros((H, H)),  # h0 = 0
        "rnn.b": da.sum(axis=0),
        "fc.W": h.T @ dlogits,
        "fc.b": dlogits.sum(axis=0),
    }
    total = math.sqrt(sum(float((g**2).sum()) for g in grads.values()))
    max_norm = total / 3  # the clip acts
    torch.set_num_threads(2)
    try:
        losses, history = torch_training.classifier_steps(
            params, [(x, y)], "SGD", {"lr": 0.1}, max_norm
        )
        assert torch.get_num_threads() == 2  # it ran on one thread, and gave the threads back
    finally:
        torch.set_num_threads(1)  # as the torch fixture has it
    assert losses == [pytest.approx(loss, rel=RTOL)]
    (after,) = history
    assert list(after) == list(params)
    for key, value in params.items():
        expected = value - 0.1 * grads[key] * (max_norm / (total + 1e-6))
        np.testing.assert_allclose(after[key], expected, rtol=0, atol=1e-15, err_msg=key)
