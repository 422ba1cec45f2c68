"""The trainable SimpleRNN: create, stateful truncated BPTT and training steps, against torch.

torch's nn.RNN has two biases where SimpleRNN has one ``b``: the torch side keeps ``bias_hh`` at
zero and frozen (outside the optimizer and the clipping), so that ``bias_ih`` is ``b``.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest

import reference_rnn as rr
from reference_rnn.core.measure import scaled_error
from reference_rnn.training import initializers, optim

N, T, D, H = 3, 4, 2, 5
TOL = 1e-12


def _weights(seed=0):
    k = 1 / np.sqrt(H)  # torch's initialisation scale
    rng = np.random.default_rng(seed)
    return rng.uniform(-k, k, (D, H)), rng.uniform(-k, k, (H, H)), rng.uniform(-k, k, H)


def _torch_rnn(torch, Wx, Wh, b):
    """nn.RNN(D, H, batch_first) holding Wx, Wh, b: bias_hh zero and frozen."""
    module = torch.nn.RNN(D, H, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        module.weight_ih_l0.copy_(torch.tensor(Wx.T))
        module.weight_hh_l0.copy_(torch.tensor(Wh.T))
        module.bias_ih_l0.copy_(torch.tensor(b))
        module.bias_hh_l0.zero_()
    module.bias_hh_l0.requires_grad_(False)
    return module


def _torch_params(module):
    """torch's trainable parameters in SimpleRNN's layout: Wx, Wh, b."""
    return [
        module.weight_ih_l0.detach().numpy().T,
        module.weight_hh_l0.detach().numpy().T,
        module.bias_ih_l0.detach().numpy(),
    ]


# -- create -------------------------------------------------------------------------------------


def test_create_draws_wx_wh_then_b_from_the_initializer():
    layer = rr.SimpleRNN.create(D, H, initializers.TorchInitializer(seed=3))
    again = initializers.TorchInitializer(seed=3)
    for ours, expected in zip(
        layer.params, [again.W(D, H), again.W(H, H), again.B(H)], strict=True
    ):
        np.testing.assert_array_equal(ours, expected)
    assert (layer.return_sequences, layer.stateful, layer.optimizer) == (False, False, None)
    seq = rr.SimpleRNN.create(
        D, H, initializers.XavierInitializer(), return_sequences=True, stateful=True
    )
    assert (seq.return_sequences, seq.stateful) == (True, True)
    np.testing.assert_array_equal(seq.params[2], 0.0)


class WrongShapes:
    def W(self, n_nodes1, n_nodes2):  # noqa: N802  (the course's names)
        return np.zeros((n_nodes2, n_nodes1))

    def B(self, n_nodes2):  # noqa: N802
        return np.zeros(n_nodes2)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda: rr.SimpleRNN.create(D, H, initializers.XavierInitializer),
            TypeError,
            "initializer must be an initializer instance .* got <class",
        ),
        (lambda: rr.SimpleRNN.create(D, H, "xavier"), TypeError, "got 'xavier'"),
        (
            lambda: rr.SimpleRNN.create(D, H, WrongShapes()),
            ValueError,
            (
                r"initializer.W\(n_nodes1, n_nodes2\) must have shape \(2, 5\) "
                r"\(n_nodes1 = 2, n_nodes2 = 5\), got \(5, 2\)"
            ),
        ),
        (
            lambda: rr.SimpleRNN.create(0, H, initializers.XavierInitializer()),
            ValueError,
            "n_nodes1 must be greater than zero",
        ),
        (
            lambda: rr.SimpleRNN.create(D, H, initializers.XavierInitializer(), optim.SGD),
            TypeError,
            "optimizer must be an optimizer instance",
        ),
        (
            lambda: rr.SimpleRNN(*_weights(), optimizer="sgd"),
            TypeError,
            "optimizer must be an optimizer instance .* got 'sgd'",
        ),
        (lambda: rr.SimpleRNN(*_weights(), stateful=1), TypeError, "stateful must be a bool"),
    ],
)
def test_bad_create_arguments_are_named(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_update_needs_an_optimizer():
    layer = rr.SimpleRNN(*_weights())
    with pytest.raises(RuntimeError, match=r"SimpleRNN\.update needs an optimizer"):
        layer.update()


# -- stateful -----------------------------------------------------------------------------------


@pytest.mark.parametrize("return_sequences", [True, False])
def test_stateful_truncated_bptt_equals_torch_block_by_block(torch: ModuleType, return_sequences):
    """Three blocks; torch starts each from the last h_n, detached: outputs, dh_prev, gradients."""
    Wx, Wh, b = _weights()
    layer = rr.SimpleRNN(Wx, Wh, b, return_sequences, stateful=True)
    module = _torch_rnn(torch, Wx, Wh, b)
    rng = np.random.default_rng(1)
    h_n = torch.zeros(1, N, H, dtype=torch.float64)
    for block in range(3):
        x = rng.standard_normal((N, T, D))
        dout = rng.standard_normal((N, T, H) if return_sequences else (N, H))
        hx = h_n.detach().requires_grad_()  # what truncated BPTT does in torch
        xt = torch.tensor(x, requires_grad=True)
        module.zero_grad()
        output, h_n = module(xt, hx)
        out_t = output if return_sequences else output[:, -1]
        (out_t * torch.tensor(dout)).sum().backward()

        out = layer.forward(x)  # no h_prev: the carried state
        assert scaled_error(out, out_t.detach().numpy()) <= TOL, block
        dx = layer.backward(dout)
        assert scaled_error(dx, xt.grad.numpy()) <= TOL, block
        assert scaled_error(layer.dh_prev, hx.grad[0].numpy()) <= TOL, block
        expected = [
            module.weight_ih_l0.grad.numpy().T,
            module.weight_hh_l0.grad.numpy().T,
            module.bias_ih_l0.grad.numpy(),
        ]
        for name, ours, theirs in zip(("dWx", "dWh", "db"), layer.grads, expected, strict=True):
            assert scaled_error(ours, theirs) <= TOL, (block, name)
        assert scaled_error(layer.h, h_n[0].detach().numpy()) <= TOL, block
    assert np.abs(layer.h).max() > 0.1  # the carried state is far from zeros


def test_stateful_state_starts_at_zeros_and_follows_set_and_reset():
    Wx, Wh, b = _weights()
    rng = np.random.default_rng(2)
    x1, x2 = rng.standard_normal((2, N, T, D))
    plain = rr.SimpleRNN(Wx, Wh, b)
    stateful = rr.SimpleRNN(Wx, Wh, b, stateful=True)
    assert stateful.h is None
    h1 = stateful.forward(x1)
    np.testing.assert_array_equal(h1, plain.forward(x1, np.zeros((N, H))))
    np.testing.assert_array_equal(stateful.h, h1)
    np.testing.assert_array_equal(stateful.forward(x2), plain.forward(x2, h1))
    np.testing.assert_array_equal(plain.forward(x2), plain.forward(x2, np.zeros((N, H))))
    stateful.reset_state()
    assert stateful.h is None
    np.testing.assert_array_equal(stateful.forward(x2), plain.forward(x2))
    h0 = rng.uniform(-1, 1, (N, H))
    expected = plain.forward(x1, h0)
    stateful.set_state(h0)
    h0[...] = 0  # set_state keeps a copy
    np.testing.assert_array_equal(stateful.forward(x1), expected)


def test_an_explicit_h_prev_wins_and_becomes_the_start_of_the_carried_state():
    Wx, Wh, b = _weights()
    rng = np.random.default_rng(3)
    x1, x2 = rng.standard_normal((2, N, T, D))
    h0 = rng.uniform(-1, 1, (N, H))
    plain = rr.SimpleRNN(Wx, Wh, b)
    stateful = rr.SimpleRNN(Wx, Wh, b, stateful=True)
    stateful.forward(x2)
    h1 = stateful.forward(x1, h0)
    np.testing.assert_array_equal(h1, plain.forward(x1, h0))
    np.testing.assert_array_equal(stateful.forward(x2), plain.forward(x2, h1))


def test_a_carried_state_of_another_batch_size_is_named():
    layer = rr.SimpleRNN(*_weights(), stateful=True)
    rng = np.random.default_rng(4)
    layer.forward(rng.standard_normal((N, T, D)))
    carried = layer.h.copy()
    with pytest.raises(ValueError, match=r"the carried state h .*reset_state\(\) clears it\) must"):
        layer.forward(rng.standard_normal((N + 1, T, D)))
    np.testing.assert_array_equal(layer.h, carried)  # a refused forward keeps the state
    layer.reset_state()
    assert layer.forward(rng.standard_normal((N + 1, T, D))).shape == (N + 1, H)


@pytest.mark.parametrize(
    ("h", "error", "match"),
    [
        (np.zeros(H), ValueError, r"h must be 2-D \(N, H\), got 1-D"),
        (np.zeros((N, H + 1)), ValueError, r"h must have shape \(3, 5\) \(H = 5 from Wx\)"),
        (np.full((N, H), np.nan), ValueError, "h must be finite"),
        (np.zeros((N, H), complex), TypeError, "h must be a real floating"),
    ],
)
def test_bad_set_state_is_named(h, error, match):
    layer = rr.SimpleRNN(*_weights(), stateful=True)
    with pytest.raises(error, match=match):
        layer.set_state(h)
    assert layer.h is None


# -- training steps -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ours", "theirs", "kwargs"),
    [
        (optim.SGD, "SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
        (optim.Adam, "Adam", {"lr": 0.05, "amsgrad": True}),
        (optim.RMSprop, "RMSprop", {"lr": 0.01, "momentum": 0.5, "centered": True}),
    ],
)
def test_twenty_steps_of_layer_update_with_clipping_equal_torch(
    torch: ModuleType, ours, theirs, kwargs
):
    """forward, backward, clip_grad_norm, update: torch's losses and weights at every step.

    The learning rates keep training stable: at lr=0.3 SGD's steps amplify rounding about
    threefold per step here, and two correct implementations drift apart (1e-10 by step 19).
    """
    Wx, Wh, b = _weights(5)
    layer = rr.SimpleRNN(Wx, Wh, b, stateful=True, optimizer=ours(**kwargs))
    module = _torch_rnn(torch, Wx, Wh, b)
    trainable = [p for p in module.parameters() if p.requires_grad]
    opt = getattr(torch.optim, theirs)(trainable, **kwargs)
    rng = np.random.default_rng(6)
    h_n = torch.zeros(1, N, H, dtype=torch.float64)
    clipped = 0
    for step in range(20):
        x, target = rng.standard_normal((N, T, D)), rng.uniform(-1, 1, (N, H))
        # torch: a squared-error loss on the final state, the state carried over and detached
        opt.zero_grad()
        output, h_n = module(torch.tensor(x), h_n.detach())
        loss_t = ((output[:, -1] - torch.tensor(target)) ** 2).sum() / (2 * N)
        loss_t.backward()
        norm_t = torch.nn.utils.clip_grad_norm_(trainable, max_norm=1.6)
        opt.step()
        # ours
        h = layer.forward(x)
        loss = ((h - target) ** 2).sum() / (2 * N)
        layer.backward((h - target) / N)
        norm = optim.clip_grad_norm(layer.grads, max_norm=1.6)
        layer.update()

        assert abs(loss - loss_t.item()) <= TOL * abs(loss_t.item()), step
        assert norm == pytest.approx(norm_t.item(), rel=TOL), step
        clipped += norm > 1.6
        for name, p, q in zip(("Wx", "Wh", "b"), layer.params, _torch_params(module), strict=True):
            assert scaled_error(p, q) <= TOL, (step, name)
    assert 0 < clipped < 20  # the clipping both acted and let alone
    assert scaled_error(layer.params[1], Wh) > 1e-2  # and the weights moved


def test_an_optimizer_trains_rnn_params_as_torch_optim_does(torch: ModuleType):
    """update(rnn) on RNN.params (torch's names, both biases) equals torch.optim on nn.RNN."""
    torch.manual_seed(0)
    module = torch.nn.RNN(3, 4, num_layers=2, bidirectional=True, dtype=torch.float64)
    rnn = rr.RNN(3, 4, num_layers=2, bidirectional=True)
    rnn.load_state_dict(module.state_dict())
    params = rnn.params
    arrays = {k: id(v) for k, v in params.items()}
    opt_t = torch.optim.Adam(module.parameters(), lr=0.05, weight_decay=0.01)
    opt = optim.Adam(lr=0.05, weight_decay=0.01)
    rng = np.random.default_rng(7)
    for step in range(5):
        x, g = rng.standard_normal((6, 2, 3)), rng.standard_normal((6, 2, 8))
        opt_t.zero_grad()
        output, _ = module(torch.tensor(x))
        (output * torch.tensor(g)).sum().backward()
        opt_t.step()
        rnn(x)
        rnn.backward(g)
        opt.update(rnn)
        for name, p in module.named_parameters():
            assert scaled_error(rnn.params[name], p.detach().numpy()) <= TOL, (step, name)
    assert {k: id(v) for k, v in rnn.params.items()} == arrays  # updated in place
    assert list(opt.state) == list(module.state_dict())  # state per torch name
