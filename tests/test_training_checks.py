"""verify's training rows: every one passes, and an error planted in one part fails its rows only.

The planted errors are written here, as someone would get the rule wrong; each must fail exactly
the rows that check that rule, which shows that the rows see what they claim to see.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import numpy as np
import pytest

from reference_rnn import oracles
from reference_rnn.layers.simple_rnn import SimpleRNN
from reference_rnn.training import initializers, models, optim
from reference_rnn.verify import initializer_rows
from reference_rnn.verify import training_rows as training_checks

ROWS = {"torch": 16, "statistics": 4, "definition": 2}


def _measure(available) -> dict[str, tuple[str, float, float]]:
    """Each row's name: (against, error, tolerance)."""
    return {
        row.name: (row.against, row.measure(), row.tolerance)
        for row in training_checks.planned(available)
    }


def _failing(available) -> set[str]:
    """The names of the rows that fail, crashing ones included."""
    failing = set()
    for row in training_checks.planned(available):
        try:
            passed = row.measure() <= row.tolerance
        except ValueError:
            passed = False
        if not passed:
            failing.add(row.name)
    return failing


@pytest.fixture(scope="module")
def with_torch(torch: ModuleType) -> dict[str, ModuleType]:
    return {"torch": oracles.load("torch")}


def test_every_row_passes(with_torch):
    measured = _measure(with_torch)
    kinds = [against for against, _, _ in measured.values()]
    assert {kind: kinds.count(kind) for kind in ROWS} == ROWS
    assert len(kinds) == sum(ROWS.values())
    for name, (_, error, tolerance) in measured.items():
        assert 0 <= error <= tolerance, name
    # the statistics are in standard errors: a real sample is off by some, never by none
    assert all(error > 0.01 for against, error, _ in measured.values() if against == "statistics")


def test_without_torch_the_statistics_and_definitions_remain():
    rows = list(training_checks.planned({}))
    assert [row.against for row in rows] == ["statistics"] * 4 + ["definition"] * 2
    assert all(row.measure() <= row.tolerance for row in rows)


def _names(*starts: str) -> Callable[[set[str]], set[str]]:
    return lambda names: {name for name in names if name.startswith(starts)}


# -- planted errors ------------------------------------------------------------------------------


def adam_without_bias_correction(self, param, grad, state):
    if "exp_avg" not in state:
        state["exp_avg"], state["exp_avg_sq"] = np.zeros_like(param), np.zeros_like(param)
    beta1, beta2 = self.betas
    g = grad + self.weight_decay * param
    state["exp_avg"][...] = beta1 * state["exp_avg"] + (1 - beta1) * g
    state["exp_avg_sq"][...] = beta2 * state["exp_avg_sq"] + (1 - beta2) * g * g
    param -= self.lr * state["exp_avg"] / (np.sqrt(state["exp_avg_sq"]) + self.eps)


def clip_without_the_1e_6(grads, max_norm, norm_type=2.0):
    arrays = list(grads.values())
    p = float(norm_type)
    total = float(np.linalg.norm([np.linalg.norm(g.ravel(), p) for g in arrays], p))
    for g in arrays:
        np.multiply(g, min(max_norm / total, 1.0), out=g)
    return total


def clip_at_twice_the_value(grads, clip_value):
    for g in grads.values():
        np.clip(g, -2 * clip_value, 2 * clip_value, out=g)


def sgd_buffer_from_zeros(self, param, grad, state):
    g = grad + self.weight_decay * param
    if self.momentum != 0:
        buf = state.setdefault("buf", np.zeros_like(param))
        buf[...] = self.momentum * buf + (1 - self.dampening) * g  # torch: buf = g at first
        g = g + self.momentum * buf if self.nesterov else buf
    param -= self.lr * g


def _state_not_carried(monkeypatch):
    forward = SimpleRNN.forward

    def from_zeros(self, x, h_prev=None):
        self.reset_state()
        return forward(self, x, h_prev)

    monkeypatch.setattr(SimpleRNN, "forward", from_zeros)


def _xavier_with_the_wrong_fan(monkeypatch):
    def W(self, n_nodes1, n_nodes2):  # noqa: N802  (the course's name)
        return self.rng.standard_normal((n_nodes1, n_nodes2)) / np.sqrt(n_nodes2)

    monkeypatch.setattr(initializers.XavierInitializer, "W", W)


def _torch_initializer_bias_at_half_range(monkeypatch):
    def B(self, n_nodes2):  # noqa: N802
        k = 1 / np.sqrt(n_nodes2)
        return self.rng.uniform(-k / 2, k / 2, n_nodes2)

    monkeypatch.setattr(initializers.TorchInitializer, "B", B)


def _orthogonal_without_gain(monkeypatch):
    W = initializers.OrthogonalInitializer.W
    monkeypatch.setattr(
        initializers.OrthogonalInitializer, "W", lambda self, n1, n2: W(self, n1, n2) / self.gain
    )


def _seed_ignored(monkeypatch):
    def fixed(self, seed):
        self.rng = np.random.default_rng(0)

    monkeypatch.setattr(initializers._Seeded, "__init__", fixed)


PLANTED = {
    "Adam without bias correction": (
        lambda mp: mp.setattr(optim.Adam, "_step", adam_without_bias_correction),
        _names("Adam("),
    ),
    "clip_grad_norm without the 1e-6": (
        lambda mp: mp.setattr(optim, "clip_grad_norm", clip_without_the_1e_6),
        _names("clip_grad_norm("),
    ),
    "clip_grad_value clipping at twice the value": (
        lambda mp: mp.setattr(optim, "clip_grad_value", clip_at_twice_the_value),
        _names("clip_grad_value("),
    ),
    "SGD's momentum buffer from zeros (dampening at the first step)": (
        lambda mp: mp.setattr(optim.SGD, "_step", sgd_buffer_from_zeros),
        _names("SGD(lr=0.05, momentum=0.9, dampening"),
    ),
    "the classifier not clipping": (
        lambda mp: mp.setattr(models, "clip_grad_norm", lambda *_: 0.0),
        _names("RNNClassifier"),
    ),
    "a stateful SimpleRNN not carrying its state": (
        _state_not_carried,
        _names("SimpleRNN stateful"),
    ),
    "Xavier with the fan of n_nodes2": (_xavier_with_the_wrong_fan, _names("XavierInitializer")),
    "TorchInitializer's bias on half the range": (
        _torch_initializer_bias_at_half_range,
        _names("TorchInitializer"),
    ),
    "OrthogonalInitializer without its gain": (
        _orthogonal_without_gain,
        _names("OrthogonalInitializer"),
    ),
    "every initializer ignoring its seed": (_seed_ignored, _names("every initializer")),
}


@pytest.mark.parametrize("planted", list(PLANTED))
def test_a_planted_error_fails_its_rows_and_only_those(monkeypatch, with_torch, planted):
    plant, expected = PLANTED[planted]
    every_row = {row.name for row in training_checks.planned(with_torch)}
    plant(monkeypatch)
    failing = _failing(with_torch)
    assert failing == expected(every_row)
    assert failing  # the rows that check this rule exist


def test_an_ignored_seed_is_said(monkeypatch):
    _seed_ignored(monkeypatch)
    with pytest.raises(ValueError, match="SimpleInitializer: seeds 7 and 8 give the same W"):
        initializer_rows.seed_error()


def test_the_clipping_rows_clip_and_let_alone():
    """The premise of the clipping rows: each norm lies between their two max_norms (0.5, 1e3),
    and clip_value bounds some entries but not most."""
    grads = list(training_checks._gradients(0).values())
    for norm_type in training_checks.NORM_TYPES:
        total = np.linalg.norm([np.linalg.norm(g.ravel(), norm_type) for g in grads], norm_type)
        assert 0.5 < total < 1e3, norm_type
    entries = np.concatenate([np.abs(g).ravel() for g in grads])
    assert 0 < np.mean(entries > training_checks.CLIP_VALUE) < 0.5
