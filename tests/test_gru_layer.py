"""GRU against torch.nn.GRU over the product of its options, GRUCell against torch.nn.GRUCell, and
their contract.

The torch side is the torch oracle (reference_rnn.oracles.torch): a ``torch.nn.GRU`` built from the
same raw arrays, run through ``pack_padded_sequence`` / ``pad_packed_sequence`` when lengths are
given, differentiated through ``(output * G).sum() + (h_n * GH).sum()``. torch computes
``reset_after=True`` only; ``reset_after=False`` layers are checked against the JAX and exact
oracles (tests/test_gru_oracles.py).
"""

from __future__ import annotations

import itertools
import re
import warnings
from types import ModuleType

import numpy as np
import pytest

import reference_rnn as rr
from reference_rnn.core.config import RNNConfig
from reference_rnn.core.measure import TOLERANCE, scaled_error
from reference_rnn.core.validation import NonFiniteResultError
from reference_rnn.oracles import torch as torch_oracle
from reference_rnn.verify.cases import RNNCase

FORWARD = ("output", "h_n")


def _id(layers, bidirectional, batch_first, bias, unbatched, hx, lengths, dtype):
    return (
        f"L{layers}-{'bi' if bidirectional else 'uni'}-{'bf' if batch_first else 'tm'}"
        f"-{'bias' if bias else 'nobias'}-{'unbatched' if unbatched else 'batched'}"
        f"-{'hx' if hx else 'nohx'}-{'lengths' if lengths else 'full'}-{dtype}"
    )


PRODUCT = [
    pytest.param(
        RNNCase(
            "gru product",
            {
                "input_size": 3,
                "hidden_size": 4,
                "num_layers": layers,
                "bias": bias,
                "batch_first": batch_first,
                "bidirectional": bidirectional,
                "cell": "GRU",
            },
            N=4,
            T=5,
            dtype=dtype,
            unbatched=unbatched,
            hx=hx,
            lengths=(3, 5, 1, 4) if lengths else None,
            seed=seed,
        ),
        id=_id(layers, bidirectional, batch_first, bias, unbatched, hx, lengths, dtype),
    )
    for seed, (
        layers,
        bidirectional,
        batch_first,
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


@pytest.mark.parametrize(
    ("bidirectional", "lengths", "dtype"),
    list(itertools.product((False, True), (None, (2, 6, 5)), ("float64", "float32"))),
)
def test_dropout_in_training_matches_torch_with_the_same_masks(
    torch: ModuleType, bidirectional, lengths, dtype
):
    options = {"input_size": 3, "hidden_size": 4, "num_layers": 3, "dropout": 0.5, "cell": "GRU"}
    case = RNNCase(
        "dropout",
        options | {"bidirectional": bidirectional},
        T=6,
        training=True,
        lengths=lengths,
        dtype=dtype,
    )
    ours, problem = case.run()
    K = 2 if bidirectional else 1
    assert problem.dropout_masks is not None
    assert [m.shape for m in problem.dropout_masks] == [(6, 3, K * 4)] * 2
    for mask in problem.dropout_masks:
        assert set(np.unique(mask)) == {0.0, 2.0}
    theirs = torch_oracle.run(problem)
    for name in theirs:
        assert ours[name].dtype == dtype, name
        assert scaled_error(ours[name], theirs[name]) <= TOLERANCE[dtype], name


def test_the_torch_oracle_refuses_reset_after_false_with_the_reason():
    problem = RNNCase("before", {"input_size": 3, "hidden_size": 4, "cell": "GRU"}).problem()
    assert torch_oracle.unsupported(problem) is None
    before = RNNCase(
        "before", {"input_size": 3, "hidden_size": 4, "cell": "GRU", "reset_after": False}
    )
    assert "reset_after=True only" in torch_oracle.unsupported(before.problem())


# -- the layer's contract ------------------------------------------------------------------------


def test_parameter_names_and_shapes_are_torchs(torch: ModuleType):
    for options in ({}, {"num_layers": 3, "bidirectional": True}, {"num_layers": 2, "bias": False}):
        gru = rr.GRU(3, 4, **options)
        expected = torch.nn.GRU(3, 4, **options).state_dict()
        assert [(k, v.shape) for k, v in gru.state_dict().items()] == [
            (k, tuple(v.shape)) for k, v in expected.items()
        ]


def test_default_init_is_torchs_uniform():
    gru = rr.GRU(3, 100, seed=0)
    values = np.concatenate([value.ravel() for value in gru.params.values()])
    assert np.abs(values).max() <= 0.1
    assert np.abs(values).max() > 0.099


@pytest.mark.parametrize("reset_after", [True, False])
def test_from_torch_and_to_torch_round_trip(torch: ModuleType, reset_after):
    with pytest.warns(UserWarning, match="dropout"):
        module = torch.nn.GRU(
            5, 3, 1, bias=False, batch_first=True, dropout=0.2, bidirectional=True
        )
    module = module.double().eval()
    gru = rr.GRU.from_torch(module)
    assert gru.config == RNNConfig(
        5, 3, bias=False, batch_first=True, dropout=0.2, bidirectional=True, cell="GRU"
    )
    assert (gru.dtype, gru.training, gru.reset_after) == (np.float64, False, True)
    for name, value in module.state_dict().items():
        np.testing.assert_array_equal(gru.params[name], value.numpy())
    back = gru.to_torch()
    assert type(back) is torch.nn.GRU
    assert not back.training
    for name, value in back.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), module.state_dict()[name].numpy())


def test_to_torch_refuses_reset_after_false_with_the_reason(torch: ModuleType):
    with pytest.raises(ValueError, match=r"^torch.nn.GRU computes reset_after=True only \(n = "):
        rr.GRU(3, 4, reset_after=False).to_torch()


def test_from_torch_takes_a_gru_only(torch: ModuleType):
    with pytest.raises(TypeError, match=r"^module must be a torch.nn.GRU, got RNN$"):
        rr.GRU.from_torch(torch.nn.RNN(3, 4))
    with pytest.raises(TypeError, match=r"^module must be a torch.nn.GRU, got LSTM$"):
        rr.GRU.from_torch(torch.nn.LSTM(3, 4))
    with pytest.raises(TypeError, match=r"^module must be a torch.nn.RNN, got GRU$"):
        rr.RNN.from_torch(torch.nn.GRU(3, 4))


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({}, "GRU(3, 4)"),
        ({"reset_after": False}, "GRU(3, 4, reset_after=False)"),
        ({"num_layers": 2, "bias": False}, "GRU(3, 4, num_layers=2, bias=False)"),
    ],
)
def test_repr_shows_what_differs_from_torchs_defaults(kwargs, text):
    assert repr(rr.GRU(3, 4, **kwargs)) == text


def test_reset_after_is_a_read_only_attribute_and_a_bool():
    gru = rr.GRU(3, 4, reset_after=np.bool_(False))
    assert gru.reset_after is False
    with pytest.raises(AttributeError):
        gru.reset_after = True  # type: ignore[misc]
    with pytest.raises(TypeError, match=r"^reset_after must be a bool, got str$"):
        rr.GRU(3, 4, reset_after="no")


def test_the_conventions_differ_on_the_same_weights():
    after, before = rr.GRU(3, 4, seed=0), rr.GRU(3, 4, seed=0, reset_after=False)
    x = np.random.default_rng(1).standard_normal((5, 2, 3))
    assert scaled_error(before(x)[0], after(x)[0]) > 1e-3


def test_a_wrong_shape_is_torchs_message():
    gru = rr.GRU(3, 4, num_layers=2)
    with pytest.raises(ValueError, match=r"^input must have input_size = 3 features on its last"):
        gru(np.zeros((5, 2, 7)))
    with pytest.raises(ValueError, match=r"^hx must have shape \(2, 2, 4\)"):
        gru(np.zeros((5, 2, 3)), np.zeros((1, 2, 4)))
    with pytest.raises(ValueError, match=r"^For batched 3-D input, hx should also be 3-D but got"):
        gru(np.zeros((5, 2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"^input must be 3-D"):
        gru(np.zeros((1, 5, 2, 3)))
    with pytest.raises(RuntimeError, match=r"^GRU.backward needs a successful forward first$"):
        rr.GRU(3, 4).backward(np.zeros((5, 2, 4)))


def test_an_overflow_is_located_in_the_layers_terms():
    # zero weights but n's input bias: layer 0's states are (1 - z) tanh(5) = 0.4999 everywhere,
    # and layer 1's reverse projection of its 4 inputs 2e308
    gru = rr.GRU(1, 2, num_layers=2, bidirectional=True)
    gru.load_state_dict({name: np.zeros_like(value) for name, value in gru.params.items()})
    for name in ("bias_ih_l0", "bias_ih_l0_reverse"):
        gru.params[name] = [0, 0, 0, 0, 5, 5]
    gru.params["weight_ih_l1_reverse"] = np.full((6, 4), 1e308)
    with pytest.raises(
        NonFiniteResultError,
        match=r"^the input projection x @ Wx \+ b overflowed at time step \d \(layer 1, reverse ",
    ):
        gru(np.ones((3, 2, 1)))
    # x = 1, every weight and bias zero: r = z = 1/2, n = 0, and dWx's n part sums 4 rows of 1e308 / 2
    gru = rr.GRU(1, 2)
    gru.load_state_dict({name: np.zeros_like(value) for name, value in gru.params.items()})
    output, _ = gru(np.ones((1, 4, 1)))
    with pytest.raises(
        NonFiniteResultError,
        match=r"^the gradient of weight_ih_l0 overflowed \(layer 0, forward direction\)",
    ):
        gru.backward(np.full(output.shape, 1e308))


# -- GRUCell ---------------------------------------------------------------------------------------


def _torch_cell(torch, cell, x, hx, grad):
    """torch.nn.GRUCell with the cell's weights: h', grad_input, grad_hx and the weights' grads."""
    dtype = getattr(torch, cell.dtype.name)
    module = torch.nn.GRUCell(cell.input_size, cell.hidden_size, cell.bias, dtype=dtype)
    with torch.no_grad():
        for name, param in module.named_parameters():
            param.copy_(torch.from_numpy(cell.params[name]))
    x_t = torch.tensor(x, requires_grad=True)
    hx_t = None if hx is None else torch.tensor(hx, requires_grad=True)
    h = module(x_t, hx_t)
    (h * torch.tensor(grad)).sum().backward()
    grads = {name: p.grad.numpy() for name, p in module.named_parameters()}
    return h.detach().numpy(), x_t.grad.numpy(), None if hx is None else hx_t.grad.numpy(), grads


@pytest.mark.parametrize(
    ("dtype", "bias", "unbatched", "hx"),
    list(itertools.product(("float64", "float32"), (True, False), (False, True), (True, False))),
)
def test_gru_cell_matches_torch(torch: ModuleType, dtype, bias, unbatched, hx):
    cell = rr.GRUCell(3, 5, bias, dtype=dtype, seed=1)
    rng = np.random.default_rng(2)
    batch = () if unbatched else (4,)
    x = rng.standard_normal((*batch, 3)).astype(dtype)
    h0 = rng.uniform(-1, 1, (*batch, 5)).astype(dtype) if hx else None
    grad = rng.standard_normal((*batch, 5)).astype(dtype)
    h, grad_input, grad_hx, grads = _torch_cell(torch, cell, x, h0, grad)
    ours = cell(x, h0)
    assert ours.dtype == dtype
    assert ours.shape == h.shape
    assert scaled_error(ours, h) <= TOLERANCE[dtype]
    our_grad_input, our_grad_hx = cell.backward(grad)
    assert scaled_error(our_grad_input, grad_input) <= TOLERANCE[dtype]
    if hx:
        assert scaled_error(our_grad_hx, grad_hx) <= TOLERANCE[dtype]
    assert our_grad_hx.shape == (*batch, 5)
    assert list(cell.grads) == list(grads)
    for name, grad_param in grads.items():
        assert scaled_error(cell.grads[name], grad_param) <= TOLERANCE[dtype], name


def test_gru_cell_is_one_step_of_the_layer_in_either_convention():
    rng = np.random.default_rng(3)
    x, h0, grad = (
        rng.standard_normal((4, 3)),
        rng.uniform(-1, 1, (4, 5)),
        rng.standard_normal((4, 5)),
    )
    for reset_after in (True, False):
        cell = rr.GRUCell(3, 5, reset_after=reset_after, seed=4)
        gru = rr.GRU(3, 5, reset_after=reset_after)
        gru.load_state_dict({f"{name}_l0": value for name, value in cell.state_dict().items()})
        output, _ = gru(x[None], h0[None])
        np.testing.assert_array_equal(cell(x, h0), output[0])
        grad_input, grad_hx = gru.backward(grad[None])
        ours = cell.backward(grad)
        np.testing.assert_array_equal(ours[0], grad_input[0])
        np.testing.assert_array_equal(ours[1], grad_hx[0])


def test_gru_cell_from_torch_and_its_attributes(torch: ModuleType):
    module = torch.nn.GRUCell(3, 5, bias=False, dtype=torch.float32)
    cell = rr.GRUCell.from_torch(module)
    assert (cell.input_size, cell.hidden_size, cell.bias, cell.dtype) == (3, 5, False, np.float32)
    np.testing.assert_array_equal(cell.weight_hh, module.weight_hh.detach().numpy())
    assert repr(cell) == "GRUCell(3, 5, bias=False)"
    assert repr(rr.GRUCell(3, 5, reset_after=False)) == "GRUCell(3, 5, reset_after=False)"
    with pytest.raises(AttributeError, match=r"^'GRUCell' object has no attribute 'weight_ih_l0'$"):
        _ = cell.weight_ih_l0
    with pytest.raises(TypeError, match=r"^module must be a torch.nn.GRUCell, got GRU$"):
        rr.GRUCell.from_torch(torch.nn.GRU(3, 5))
    with pytest.raises(TypeError, match=r"^module must be a torch.nn.GRUCell, got RNNCell$"):
        rr.GRUCell.from_torch(torch.nn.RNNCell(3, 5))


def test_gru_cell_messages():
    cell = rr.GRUCell(3, 5)
    message = "input must be 2-D (N, D) or 1-D (D,) unbatched with D = input_size = 3, got shape"
    for shape in [(2, 1, 3), (2, 4), ()]:
        with pytest.raises(ValueError, match=f"^{re.escape(message)}"):
            cell(np.zeros(shape))
    with pytest.raises(ValueError, match=r"^hx must have shape \(2, 5\) \(N from input, H = hid"):
        cell(np.zeros((2, 3)), np.zeros(5))
    with pytest.raises(ValueError, match=r"^hx must be finite, got an array with NaN or inf$"):
        cell(np.zeros((2, 3)), np.full((2, 5), np.nan))
    with pytest.raises(ValueError, match=r"^input must be finite, got an array with NaN or inf$"):
        cell(np.full((2, 3), np.inf))
    with pytest.raises(RuntimeError, match=r"^GRUCell.backward needs a successful forward first$"):
        cell.backward(np.zeros((2, 5)))
    cell(np.zeros(3))
    with pytest.raises(ValueError, match=r"^grad must have shape \(5,\) \(the shape of the outp"):
        cell.backward(np.zeros((1, 5)))
    with pytest.raises(ValueError, match=r"^grad must be finite, got an array with NaN or inf$"):
        cell.backward(np.full(5, np.nan))
    cell.params["bias_hh"][0] = np.inf
    with pytest.raises(ValueError, match=r"^bias_hh must be finite, got an array with NaN or inf$"):
        cell(np.zeros(3))
    with pytest.raises(RuntimeError, match="needs a successful forward first"):
        cell.backward(np.zeros(5))  # the failed forward left nothing behind


def test_gru_cell_load_state_dict_checks_every_value_before_changing_any():
    cell = rr.GRUCell(3, 5, dtype=np.float32, seed=0)
    before = cell.state_dict()
    good = {name: np.ones_like(value) for name, value in before.items()}
    with pytest.raises(ValueError, match=r"^state_dict must have the keys \['weight_ih', "):
        cell.load_state_dict({k: v for k, v in good.items() if k != "bias_hh"})
    with pytest.raises(ValueError, match=r"^state_dict\['bias_hh'\] must have shape \(15,\), got"):
        cell.load_state_dict(good | {"bias_hh": np.ones(5)})
    with pytest.raises(ValueError, match=r"^state_dict\['bias_hh'\] must be finite in float32"):
        cell.load_state_dict(good | {"bias_hh": np.full(15, 1e300)})
    for name, value in cell.state_dict().items():
        np.testing.assert_array_equal(value, before[name])
    cell.load_state_dict(good)
    assert all((value == 1).all() for value in cell.params.values())


# -- the configuration ---------------------------------------------------------------------------


def test_a_gru_configuration():
    config = RNNConfig(3, 4, num_layers=2, reset_after=False, cell="GRU")
    assert (config.mode, config.gate_size) == ("GRU", 12)
    assert config.describe() == "L=2, GRU, reset_after=False"
    assert config.options() == {
        "input_size": 3,
        "hidden_size": 4,
        "num_layers": 2,
        "reset_after": False,
        "cell": "GRU",
    }
    assert RNNConfig(**config.options()) == config
    assert "nonlinearity" not in config.layer_options()
    assert rr.GRU(**config.layer_options()).config == config
    assert "reset_after" not in RNNConfig(3, 4).layer_options()
    assert RNNConfig(3, 4, cell="GRU").torch_options() == {
        "input_size": 3,
        "hidden_size": 4,
        "num_layers": 1,
        "bias": True,
        "batch_first": False,
        "dropout": 0.0,
        "bidirectional": False,
    }
    with pytest.raises(ValueError, match=r"^torch.nn.GRU computes reset_after=True only"):
        config.torch_options()


@pytest.mark.parametrize(
    ("options", "kind", "message"),
    [
        ({"cell": "LSTMx"}, ValueError, "cell must be one of ['RNN', 'LSTM', 'GRU'], got 'LSTMx'"),
        ({"cell": ["GRU"]}, ValueError, "cell must be one of ['RNN', 'LSTM', 'GRU'], got ['GRU']"),
        (
            {"cell": "GRU", "nonlinearity": "relu"},
            ValueError,
            "nonlinearity is torch.nn.RNN's option, not a GRU's: got 'relu'",
        ),
        (
            {"reset_after": False},
            ValueError,
            "reset_after is the GRU's option, not an RNN's: got reset_after=False",
        ),
        ({"reset_after": 0}, TypeError, "reset_after must be a bool, got int"),
    ],
)
def test_configuration_errors(options, kind, message):
    with pytest.raises(kind) as info:
        RNNConfig(3, 4, **options)
    assert str(info.value) == message


def test_dropout_with_one_layer_warns_as_torch():
    with pytest.warns(UserWarning, match=r"^dropout option adds dropout after all but last"):
        rr.GRU(3, 4, dropout=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rr.GRU(3, 4, num_layers=2, dropout=0.5)
