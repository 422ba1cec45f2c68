"""RNN against torch.nn.RNN over the full product of its options, and its own contract.

The torch side is the torch oracle (reference_rnn.oracles.torch): a ``torch.nn.RNN`` built from the
same raw arrays, run through ``pack_padded_sequence`` / ``pad_packed_sequence`` when lengths are given, differentiated
through ``(output * G).sum() + (h_n * GH).sum()``.
"""

from __future__ import annotations

import itertools
from types import ModuleType

import numpy as np
import pytest

import reference_rnn as rr
from reference_rnn.core.measure import TOLERANCE, scaled_error
from reference_rnn.oracles import torch as torch_oracle
from reference_rnn.verify.cases import RNNCase, run_rnn

FORWARD = ("output", "h_n")

PRODUCT = [
    pytest.param(
        RNNCase(
            "product",
            {
                "input_size": 3,
                "hidden_size": 4,
                "num_layers": layers,
                "nonlinearity": nl,
                "bias": bias,
                "batch_first": batch_first,
                "bidirectional": bidirectional,
            },
            N=4,
            T=5,
            dtype=dtype,
            unbatched=unbatched,
            hx=hx,
            lengths=(3, 5, 1, 4) if lengths else None,
            seed=seed,
        ),
        id=f"L{layers}-{'bi' if bidirectional else 'uni'}-{'bf' if batch_first else 'tm'}-{nl}"
        f"-{'bias' if bias else 'nobias'}-{'unbatched' if unbatched else 'batched'}"
        f"-{'hx' if hx else 'nohx'}-{'lengths' if lengths else 'full'}-{dtype}",
    )
    for seed, (
        layers,
        bidirectional,
        batch_first,
        nl,
        bias,
        unbatched,
        hx,
        lengths,
        dtype,
    ) in enumerate(
        itertools.product(
            (1, 2, 3),
            (False, True),
            (False, True),
            ("tanh", "relu"),
            (True, False),
            (False, True),
            (True, False),
            (False, True),
            ("float64", "float32"),
        )
    )
    if not (unbatched and lengths)  # torch packs batched input only
]


def compare(case: RNNCase, names):
    ours, problem = case.run()
    theirs = torch_oracle.run(problem)
    assert ours.keys() == theirs.keys()
    for name in names(theirs):
        assert ours[name].shape == theirs[name].shape, name
        assert ours[name].dtype == case.dtype, name
        error = scaled_error(ours[name], theirs[name])
        assert error <= TOLERANCE[case.dtype], f"{name}: scaled error {error:.2e}"


@pytest.mark.parametrize("case", PRODUCT)
def test_forward_matches_torch(torch: ModuleType, case):
    compare(case, lambda _: FORWARD)


@pytest.mark.parametrize("case", PRODUCT)
def test_backward_matches_torch(torch: ModuleType, case):
    compare(case, lambda results: [name for name in results if name not in FORWARD])


DROPOUT_PRODUCT = [
    pytest.param(
        {"bidirectional": bidirectional, "batch_first": batch_first, "nonlinearity": nl}
        | {"bias": bias},
        {"lengths": lengths, "unbatched": unbatched, "hx": hx, "dtype": dtype},
        id=f"{'bi' if bidirectional else 'uni'}-{'bf' if batch_first else 'tm'}-{nl}"
        f"-{'bias' if bias else 'nobias'}-{'lengths' if lengths else 'full'}"
        f"-{'unbatched' if unbatched else 'batched'}-{'hx' if hx else 'nohx'}-{dtype}",
    )
    for bidirectional, batch_first, nl, bias, lengths, unbatched, hx, dtype in itertools.product(
        (False, True),
        (False, True),
        ("tanh", "relu"),
        (True, False),
        (None, (2, 6, 5)),
        (False, True),
        (True, False),
        ("float64", "float32"),
    )
    if not (unbatched and lengths)  # torch packs batched input only
]


@pytest.mark.parametrize(("options", "shape"), DROPOUT_PRODUCT)
def test_dropout_in_training_matches_torch_with_the_same_masks(torch: ModuleType, options, shape):
    """Every option with dropout in training: torch composes the layers with our masks.

    The masks themselves (their keep rate and scale) are checked without torch below.
    """
    options = {"input_size": 3, "hidden_size": 4, "num_layers": 3, "dropout": 0.5} | options
    bidirectional, dtype = options["bidirectional"], shape["dtype"]
    case = RNNCase("dropout", options, T=6, training=True, **shape)
    ours, problem = case.run()
    K = 2 if bidirectional else 1
    out_shape = ours["output"].shape
    assert problem.dropout_masks is not None
    assert [m.shape for m in problem.dropout_masks] == [(*out_shape[:-1], K * 4)] * 2
    for mask in problem.dropout_masks:
        assert set(np.unique(mask)) <= {0.0, 2.0}
    theirs = torch_oracle.run(problem)
    for name in theirs:
        assert ours[name].dtype == dtype, name
        assert scaled_error(ours[name], theirs[name]) <= TOLERANCE[dtype], name


def counting_network(p: float, H: int, seed: int) -> rr.RNN:
    """Two relu layers whose output counts the units that dropout kept between them.

    Layer 0 outputs the constant 0.5 in every unit (no weights, bias 0.5); layer 1 sums its H
    inputs (weight_ih all ones, nothing else). With a mask that keeps k of the H units and scales
    them by s, every unit of the output is 0.5 * s * k.
    """
    rnn = rr.RNN(1, H, num_layers=2, nonlinearity="relu", dropout=p, seed=seed)
    params = {name: np.zeros_like(value) for name, value in rnn.state_dict().items()}
    params["bias_ih_l0"][:] = 0.5
    params["weight_ih_l1"][:] = 1.0
    rnn.load_state_dict(params)
    return rnn


@pytest.mark.parametrize("p", [0.3, 0.5, 0.8])
def test_dropout_scales_kept_units_by_one_over_one_minus_p(p):
    # analytic: the output must be 0.5 / (1 - p) times a whole number of kept units in [0, H]
    H = 20
    output, _ = counting_network(p, H, seed=1)(np.zeros((40, 8, 1)))
    kept = output * (1 - p) / 0.5
    np.testing.assert_allclose(kept, np.round(kept), rtol=0, atol=1e-9)
    assert kept.min() >= 0
    assert kept.max() <= H
    assert np.ptp(kept) > 0  # not all the same count: the masks really vary
    # the same count in every unit of a position (to the rounding of the sum, which BLAS may order
    # differently for each unit): the count is of layer 0's units
    np.testing.assert_allclose(output, np.broadcast_to(output[..., :1], output.shape), rtol=1e-14)


@pytest.mark.parametrize("p", [0.1, 0.3, 0.7])
def test_dropout_keeps_each_unit_with_probability_one_minus_p(p):
    # statistical: the kept fraction over n = 200,000 Bernoulli draws lies within 5 standard
    # deviations of 1 - p (a false alarm about once in 1.7 million runs; the seed is fixed)
    H, T, N = 50, 100, 40
    output, _ = counting_network(p, H, seed=2)(np.zeros((T, N, 1)))
    kept = np.round(output[..., 0] * (1 - p) / 0.5)
    n = H * T * N
    sigma = np.sqrt(p * (1 - p) / n)
    assert abs(kept.sum() / n - (1 - p)) < 5 * sigma


def test_dropout_in_eval_matches_torch_eval(torch: ModuleType):
    case = RNNCase("eval", {"input_size": 3, "hidden_size": 4, "num_layers": 2, "dropout": 0.5})
    problem = case.problem()
    rnn = case.rnn_for(problem).eval()
    ours = run_rnn(rnn, problem)
    assert rnn.dropout_masks == []
    module = rnn.to_torch()
    assert not module.training
    expected, _ = module(torch.tensor(problem.x), torch.tensor(problem.hx))
    assert scaled_error(ours["output"], expected.detach().numpy()) <= 1e-12


def test_dropout_masks_come_from_the_seed():
    def masks(seed):
        rnn = rr.RNN(3, 4, num_layers=3, dropout=0.3, seed=seed)
        rnn(np.ones((5, 2, 3)))
        return rnn.dropout_masks

    for a, b in zip(masks(7), masks(7), strict=True):
        np.testing.assert_array_equal(a, b)
    assert any(np.any(a != b) for a, b in zip(masks(7), masks(8), strict=True))


def test_dropout_of_one_zeroes_every_layer_but_the_last():
    rnn = rr.RNN(3, 4, num_layers=2, dropout=1.0, seed=0)
    output, _ = rnn(np.random.default_rng(0).standard_normal((5, 2, 3)))
    np.testing.assert_array_equal(rnn.dropout_masks[0], 0)
    # the last layer then sees zeros whatever the input: every sequence gives the same output
    np.testing.assert_array_equal(output[:, 0], output[:, 1])


def test_lengths_zero_the_padding_and_take_h_n_at_each_length():
    rnn = rr.RNN(2, 3, bidirectional=True, batch_first=True, seed=0)
    x = np.random.default_rng(0).standard_normal((3, 4, 2))
    output, h_n = rnn(x, lengths=[4, 1, 2])
    np.testing.assert_array_equal(output[1, 1:], 0)
    np.testing.assert_array_equal(output[2, 2:], 0)
    # one sequence alone, truncated to its length, gives the same
    alone, h_alone = rnn(x[2:3, :2])
    np.testing.assert_allclose(output[2:3, :2], alone, rtol=0, atol=1e-15)
    np.testing.assert_allclose(h_n[:, 2:3], h_alone, rtol=0, atol=1e-15)


def test_batch_of_zero_is_allowed():
    rnn = rr.RNN(3, 4, num_layers=2, bidirectional=True)
    output, h_n = rnn(np.zeros((5, 0, 3)))
    assert output.shape == (5, 0, 8)
    assert h_n.shape == (4, 0, 4)
    grad_input, grad_hx = rnn.backward(np.zeros((5, 0, 8)))
    assert grad_input.shape == (5, 0, 3)
    assert grad_hx.shape == (4, 0, 4)


def test_state_dict_round_trips_through_torch(torch: ModuleType):
    module = torch.nn.RNN(3, 4, num_layers=2, bidirectional=True, dtype=torch.float64)
    rnn = rr.RNN.from_torch(module)
    sd = rnn.state_dict()
    assert list(sd) == [name for name, _ in module.named_parameters()]
    for name, param in module.named_parameters():
        np.testing.assert_array_equal(sd[name], param.detach().numpy())
        assert sd[name].shape == tuple(param.shape)
    back = rnn.to_torch()
    for name, param in back.named_parameters():
        np.testing.assert_array_equal(param.detach().numpy(), sd[name])
    # load_state_dict takes torch tensors and NumPy arrays alike
    other = rr.RNN(3, 4, num_layers=2, bidirectional=True, seed=1)
    other.load_state_dict(module.state_dict())
    for name, value in other.state_dict().items():
        np.testing.assert_array_equal(value, sd[name])


def test_from_torch_copies_the_configuration_dtype_and_mode(torch: ModuleType):
    with pytest.warns(UserWarning, match="dropout"):
        module = torch.nn.RNN(
            5,
            3,
            1,
            nonlinearity="relu",
            bias=False,
            batch_first=True,
            dropout=0.2,
            bidirectional=True,
        )
    module.eval()
    rnn = rr.RNN.from_torch(module)
    for name in (
        "input_size",
        "hidden_size",
        "num_layers",
        "nonlinearity",
        "bias",
        "batch_first",
        "dropout",
        "bidirectional",
        "training",
    ):
        assert getattr(rnn, name) == getattr(module, name), name
    assert rnn.dtype == np.float32
    back = rnn.to_torch()
    assert back.training is False
    assert next(back.parameters()).dtype == torch.float32


def test_state_dict_returns_copies():
    rnn = rr.RNN(3, 4)
    sd = rnn.state_dict()
    sd["weight_ih_l0"][...] = 0
    assert np.any(rnn.weight_ih_l0 != 0)


def test_parameters_are_attributes_with_torchs_shapes():
    rnn = rr.RNN(3, 4, num_layers=2, bidirectional=True)
    assert rnn.weight_ih_l0.shape == (4, 3)
    assert rnn.weight_ih_l1_reverse.shape == (4, 8)
    assert rnn.bias_hh_l1.shape == (4,)
    with pytest.raises(AttributeError, match="weight_ih_l2"):
        _ = rnn.weight_ih_l2


def test_default_init_is_torchs_uniform():
    rnn = rr.RNN(50, 64, num_layers=2, seed=0)
    bound = 1 / np.sqrt(64)
    values = np.concatenate([v.ravel() for v in rnn.state_dict().values()])
    assert np.abs(values).max() <= bound
    assert np.abs(values).max() > 0.99 * bound
    assert abs(values.mean()) < 0.01 * bound


def test_grads_are_replaced_not_accumulated_and_named_as_torchs():
    rnn = rr.RNN(3, 4, num_layers=2, bias=False, seed=0)
    x = np.ones((2, 1, 3))
    output, _ = rnn(x)
    rnn.backward(np.ones_like(output))
    first = {name: grad.copy() for name, grad in rnn.grads.items()}
    output, _ = rnn(x)
    rnn.backward(np.ones_like(output))
    assert list(rnn.grads) == list(rnn.state_dict())
    for name, grad in rnn.grads.items():
        np.testing.assert_array_equal(grad, first[name])


def test_bias_gradients_are_separate_arrays():
    rnn = rr.RNN(3, 4)
    output, _ = rnn(np.ones((2, 1, 3)))
    rnn.backward(np.ones_like(output))
    np.testing.assert_array_equal(rnn.grads["bias_ih_l0"], rnn.grads["bias_hh_l0"])
    assert not np.shares_memory(rnn.grads["bias_ih_l0"], rnn.grads["bias_hh_l0"])


def test_outputs_are_read_only_and_inputs_untouched():
    rnn = rr.RNN(3, 4, num_layers=2, bidirectional=True)
    x, hx = np.ones((2, 3, 3)), np.zeros((4, 3, 4))
    output, h_n = rnn(x, hx, lengths=np.array([2, 1, 2]))
    for array in (output, h_n):
        with pytest.raises(ValueError, match="read-only"):
            array[...] = 0
    np.testing.assert_array_equal(x, 1)
    np.testing.assert_array_equal(hx, 0)


def test_train_and_eval_return_self_and_set_the_mode():
    rnn = rr.RNN(3, 4)
    assert rnn.training
    assert rnn.eval() is rnn
    assert not rnn.training
    assert rnn.train() is rnn
    assert rnn.training


def test_call_is_forward():
    rnn = rr.RNN(3, 4, seed=0)
    x = np.ones((2, 1, 3))
    for a, b in zip(rnn(x), rnn.forward(x), strict=True):
        np.testing.assert_array_equal(a, b)


def test_float32_rnn_computes_in_float32():
    rnn = rr.RNN(3, 4, dtype=np.float32)
    output, h_n = rnn(np.ones((2, 1, 3), dtype=np.float32))
    grad_input, grad_hx = rnn.backward(np.ones_like(output))
    assert {a.dtype for a in (output, h_n, grad_input, grad_hx, *rnn.grads.values())} == {
        np.dtype(np.float32)
    }


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({}, "RNN(3, 4)"),
        ({"num_layers": 2, "bidirectional": True}, "RNN(3, 4, num_layers=2, bidirectional=True)"),
        (
            {"nonlinearity": "relu", "bias": False, "batch_first": True},
            "RNN(3, 4, nonlinearity='relu', bias=False, batch_first=True)",
        ),
    ],
)
def test_repr_shows_what_differs_from_torchs_defaults(kwargs, text):
    assert repr(rr.RNN(3, 4, **kwargs)) == text
