"""RNNClassifier: training steps against torch, fit on a small task, the progress bar, errors."""

from __future__ import annotations

import io
import os
import select
import sys
from types import ModuleType

import numpy as np
import pytest

from reference_rnn.core.measure import scaled_error
from reference_rnn.training import initializers, optim
from reference_rnn.training.models import RNNClassifier

N, T, D, H, K = 8, 5, 3, 6, 4
TOL = 1e-12


def _torch_model(torch, seed=0):
    """nn.RNN -> nn.Linear, float64; bias_hh zero and frozen so that bias_ih is SimpleRNN's b."""
    torch.manual_seed(seed)
    rnn = torch.nn.RNN(D, H, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        rnn.bias_hh_l0.zero_()
    rnn.bias_hh_l0.requires_grad_(False)
    fc = torch.nn.Linear(H, K, dtype=torch.float64)
    return rnn, fc


def _copy_into(model, rnn, fc):
    """torch's weights into the classifier's live parameters."""
    theirs = _as_ours(rnn, fc)
    for name, value in theirs.items():
        model.params[name][...] = value


def _as_ours(rnn, fc):
    return {
        "rnn.Wx": rnn.weight_ih_l0.detach().numpy().T,
        "rnn.Wh": rnn.weight_hh_l0.detach().numpy().T,
        "rnn.b": rnn.bias_ih_l0.detach().numpy(),
        "fc.W": fc.weight.detach().numpy().T,
        "fc.b": fc.bias.detach().numpy(),
    }


def _torch_grads(rnn, fc):
    return {
        "rnn.Wx": rnn.weight_ih_l0.grad.numpy().T,
        "rnn.Wh": rnn.weight_hh_l0.grad.numpy().T,
        "rnn.b": rnn.bias_ih_l0.grad.numpy(),
        "fc.W": fc.weight.grad.numpy().T,
        "fc.b": fc.bias.grad.numpy(),
    }


def _batches(seed, steps):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((N, T, D)), rng.integers(0, K, N)) for _ in range(steps)]


def test_one_step_loss_and_gradients_equal_torch(torch: ModuleType):
    rnn, fc = _torch_model(torch)
    model = RNNClassifier(H, optimizer=optim.SGD(lr=0.1), verbose=False).build(D, range(K))
    _copy_into(model, rnn, fc)
    before = {k: v.copy() for k, v in model.params.items()}
    ((x, y),) = _batches(1, 1)
    h = rnn(torch.tensor(x))[0][:, -1]
    loss_t = torch.nn.CrossEntropyLoss()(fc(h), torch.tensor(y))
    loss_t.backward()

    loss = model.train_step(x, y)
    assert abs(loss - loss_t.item()) <= TOL * loss_t.item()
    expected = _torch_grads(rnn, fc)
    assert list(model.grads) == list(expected)
    for name in expected:  # the FC and softmax part, and what it sends into the RNN
        assert scaled_error(model.grads[name], expected[name]) <= TOL, name
        np.testing.assert_allclose(
            model.params[name], before[name] - 0.1 * model.grads[name], rtol=0, atol=1e-15
        )
    assert model.loss(x, y) < loss  # the step went downhill


@pytest.mark.parametrize(
    ("ours", "theirs", "kwargs"),
    [
        (optim.SGD, "SGD", {"lr": 0.5, "momentum": 0.9}),
        (optim.Adam, "Adam", {"lr": 0.02, "weight_decay": 1e-3}),
    ],
)
def test_twenty_steps_with_clipping_equal_torch(torch: ModuleType, ours, theirs, kwargs):
    rnn, fc = _torch_model(torch, seed=2)
    params = [p for p in [*rnn.parameters(), *fc.parameters()] if p.requires_grad]
    opt = getattr(torch.optim, theirs)(params, **kwargs)
    model = RNNClassifier(H, optimizer=ours(**kwargs), clip=0.8, verbose=False)
    model.build(D, range(K))
    _copy_into(model, rnn, fc)
    clipped = 0
    for step, (x, y) in enumerate(_batches(3, 20)):
        opt.zero_grad()
        loss_t = torch.nn.CrossEntropyLoss()(fc(rnn(torch.tensor(x))[0][:, -1]), torch.tensor(y))
        loss_t.backward()
        norm = torch.nn.utils.clip_grad_norm_(params, max_norm=0.8).item()
        opt.step()
        clipped += norm > 0.8

        loss = model.train_step(x, y)
        assert abs(loss - loss_t.item()) <= TOL * loss_t.item(), step
        for name, value in _as_ours(rnn, fc).items():
            assert scaled_error(model.params[name], value) <= TOL, (step, name)
    assert 0 < clipped < 20  # clipping acted on some steps and not on others


def _updown(n, seed):
    """A small fast task: a noisy ramp going up or down; labels are strings."""
    rng = np.random.default_rng(seed)
    up = rng.integers(0, 2, n).astype(bool)
    ramp = np.linspace(-1, 1, 10) * np.where(up, 1, -1)[:, None]
    X = (ramp + 0.3 * rng.standard_normal((n, 10)))[:, :, None]  # (n, T = 10, D = 1)
    return X, np.where(up, "up", "down")


def test_fit_learns_a_small_task_and_records_its_losses():
    X, y = _updown(200, 0)
    X_val, y_val = _updown(100, 1)
    template = optim.Adam(lr=0.05)
    model = RNNClassifier(8, optimizer=template, epochs=15, batch_size=20, seed=0, verbose=False)
    assert model.fit(X, y, X_val, y_val) is model
    assert model.classes_.tolist() == ["down", "up"]
    assert np.mean(model.predict(X_val) == y_val) >= 0.95
    assert len(model.loss_history) == len(model.val_loss_history) == 15
    assert model.loss_history[-1] < 0.5 * model.loss_history[0]
    assert model.val_loss_history[-1] == pytest.approx(model.loss(X_val, y_val), rel=1e-15)
    assert template.state == {}  # fit trained a copy: the template stays fresh
    assert model.optimizer_.state["fc.W"]["step"] == 15 * 10
    proba = model.predict_proba(X_val)
    assert proba.shape == (100, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(model.predict(X_val), model.classes_[proba.argmax(axis=1)])
    # the same seed gives the same model; another seed another
    again = RNNClassifier(8, optimizer=template, epochs=15, batch_size=20, seed=0, verbose=False)
    assert again.fit(X, y).loss_history == model.loss_history
    assert again.val_loss_history == []
    other = RNNClassifier(8, optimizer=template, epochs=1, batch_size=20, seed=1, verbose=False)
    assert other.fit(X, y).loss_history[0] != model.loss_history[0]


def test_defaults_train_too():
    X, y = _updown(64, 2)
    model = RNNClassifier(epochs=2, verbose=False).fit(X, y)
    assert type(model.optimizer_) is optim.Adam
    assert model.optimizer_.lr == 1e-3
    assert model.params["rnn.Wx"].shape == (1, 32)
    np.testing.assert_array_equal(model.params["fc.b"] != 0, True)  # trained from Xavier's zeros


def test_the_initializer_draws_every_weight_in_order():
    model = RNNClassifier(4, initializer=initializers.TorchInitializer(seed=9), epochs=1)
    model.build(1, ["down", "up"])
    again = initializers.TorchInitializer(seed=9)
    expected = [again.W(1, 4), again.W(4, 4), again.B(4), again.W(4, 2), again.B(2)]
    for value, want in zip(model.params.values(), expected, strict=True):
        np.testing.assert_array_equal(value, want)


# -- the progress bar ---------------------------------------------------------------------------


def _fit_quietly(stream, monkeypatch, verbose=True, validation=True):
    monkeypatch.setattr(sys, "stderr", stream)
    X, y = _updown(32, 4)
    model = RNNClassifier(4, epochs=3, batch_size=16, seed=0, verbose=verbose)
    model.fit(X, y, *((X, y) if validation else ()))


@pytest.mark.parametrize("validation", [True, False])
def test_the_progress_bar_is_drawn_on_a_terminal(monkeypatch, validation):
    master, slave = os.openpty()
    with os.fdopen(slave, "w") as terminal:
        assert terminal.isatty()
        _fit_quietly(terminal, monkeypatch, validation=validation)
    out = b""
    while select.select([master], [], [], 0.5)[0]:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the terminal's other end is closed: everything was read
            break
        out += chunk
    os.close(master)
    text = out.decode()
    assert text.count("epoch") == 3
    assert "\repoch 3/3 [" + "#" * 30 + "] loss " in text
    assert ("val_loss " in text) == validation
    assert text.endswith("\n")


@pytest.mark.parametrize("verbose", [True, False])
def test_no_progress_bar_when_piped_or_quiet(monkeypatch, verbose):
    piped = io.StringIO()
    _fit_quietly(piped, monkeypatch, verbose)
    assert piped.getvalue() == ""
    r, w = os.pipe()
    with os.fdopen(w, "w") as pipe:
        _fit_quietly(pipe, monkeypatch, verbose)
    with os.fdopen(r) as reader:
        assert reader.read() == ""


# -- bad input ----------------------------------------------------------------------------------


class WrongFC:
    def W(self, n_nodes1, n_nodes2):  # noqa: N802  (the course's names)
        return np.zeros((n_nodes1, n_nodes2 + (n_nodes2 == 2)))

    def B(self, n_nodes2):  # noqa: N802
        return np.zeros(n_nodes2)


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: RNNClassifier(0), ValueError, "n_nodes must be greater than zero"),
        (lambda: RNNClassifier(epochs=2.0), TypeError, "epochs should be of type int"),
        (lambda: RNNClassifier(batch_size=True), TypeError, "batch_size should be of type int"),
        (lambda: RNNClassifier(clip=0), ValueError, "clip must be greater than zero"),
        (lambda: RNNClassifier(clip="1"), TypeError, "clip must be a real number"),
        (lambda: RNNClassifier(verbose=None), TypeError, "verbose must be a bool"),
    ],
)
def test_bad_hyperparameters_are_named(make, error, match):
    with pytest.raises(error, match=match):
        make()


def _bad_fits():
    X, y = _updown(10, 5)
    return [
        ((X[0], y), ValueError, r"X must be 3-D \(N, T, D\), got 2-D"),
        ((X[:, :0], y), ValueError, "X must have at least one sequence and one time step"),
        ((np.where(X > 1, np.nan, X), y), ValueError, "X must be finite"),
        ((X, y[:9]), ValueError, r"y must have shape \(10,\), one label per sequence of X"),
        ((X, np.full(10, "up")), ValueError, r"at least two distinct labels, got \['up'\]"),
        ((X, y, X), ValueError, "X_val and y_val go together"),
        ((X, y, None, y), ValueError, "X_val and y_val go together"),
        ((X, y, X[..., [0, 0]], y), ValueError, r"X_val must have D = 1 features .*\(10, 10, 2\)"),
        ((X, y, X, y[:3]), ValueError, r"y_val must have shape \(10,\), one label per sequence"),
        ((X, y, X, np.where(y == "up", "UP", y)), ValueError, r"y_val has labels .*: \['UP'\]"),
    ]


@pytest.mark.parametrize(("args", "error", "match"), _bad_fits())
def test_a_refused_fit_changes_nothing(args, error, match):
    X, y = _updown(10, 6)
    model = RNNClassifier(3, epochs=1, verbose=False).fit(X, y)
    before = {k: v.copy() for k, v in model.params.items()}
    history = list(model.loss_history)
    with pytest.raises(error, match=match):
        model.fit(*args)
    assert model.loss_history == history
    for k, v in before.items():
        np.testing.assert_array_equal(model.params[k], v)


def test_using_it_before_fit_is_an_error():
    model = RNNClassifier()
    X, y = _updown(4, 7)
    for call in (
        lambda: model.predict(X),
        lambda: model.predict_proba(X),
        lambda: model.loss(X, y),
        lambda: model.train_step(X, y),
    ):
        with pytest.raises(RuntimeError, match="RNNClassifier is not fitted: call fit"):
            call()


def test_predict_and_steps_check_their_inputs():
    X, y = _updown(10, 8)
    model = RNNClassifier(3, epochs=1, verbose=False).fit(X, y)
    with pytest.raises(ValueError, match=r"X must have D = 1 features on its last axis"):
        model.predict(np.zeros((2, 10, 3)))
    with pytest.raises(ValueError, match=r"y has labels that are not among the classes"):
        model.train_step(X, np.full(10, "sideways"))
    with pytest.raises(ValueError, match=r"y must have shape \(10,\)"):
        model.loss(X, y[:, None])
    with pytest.raises(ValueError, match="classes must hold at least two distinct labels"):
        model.build(1, [[0]])
    with pytest.raises(ValueError, match=r"initializer.W\(n_nodes, n_classes\) must have shape"):
        RNNClassifier(3, initializer=WrongFC()).build(1, [0, 1])
