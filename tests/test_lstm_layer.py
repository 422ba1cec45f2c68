"""LSTM against torch.nn.LSTM over the product of its options, and its own contract.

The torch side is written out here: a ``torch.nn.LSTM`` made with torch's constructor, its
parameters copied in one by one from raw arrays drawn here (torch's names and layout), run
through ``pack_padded_sequence`` / ``pad_packed_sequence`` when lengths are given, layer by layer
with our masks multiplied in between when dropout is on, and differentiated through
``(output * G).sum() + (h_n * GH).sum() + (c_n * GC).sum()`` with random G, GH, GC.
"""

from __future__ import annotations

import itertools
import re
from types import ModuleType

import numpy as np
import pytest

import reference_rnn as rr
from reference_rnn.core.config import RNNConfig
from reference_rnn.core.measure import TOLERANCE, scaled_error

# torch warns that its oneDNN kernel has no projection, then runs its own
pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections is not supported")

D, H, N, T = 3, 4, 4, 5


def draw(config: RNNConfig, dtype: str, *, unbatched=False, hx=True, lengths=None, seed=0):
    """Parameters at torch's init scale, input, initial states and upstream gradients."""
    rng = np.random.default_rng(seed)
    k = 1 / np.sqrt(config.hidden_size)
    params = {
        name: rng.uniform(-k, k, shape).astype(dtype)
        for name, shape in config.param_shapes().items()
    }
    LK, P, K = config.num_layers * config.num_directions, config.output_size, config.num_directions
    if unbatched:
        x_shape, h_shape, c_shape = (T, D), (LK, P), (LK, H)
    else:
        x_shape = (N, T, D) if config.batch_first else (T, N, D)
        h_shape, c_shape = (LK, N, P), (LK, N, H)
    arrays = {
        "x": rng.standard_normal(x_shape),
        "h0": rng.uniform(-1, 1, h_shape),
        "c0": rng.uniform(-2, 2, c_shape),
        "G": rng.standard_normal((*x_shape[:-1], K * P)),
        "GH": rng.standard_normal(h_shape),
        "GC": rng.standard_normal(c_shape),
    }
    arrays = {name: value.astype(dtype) for name, value in arrays.items()}
    arrays["hx"] = (arrays["h0"], arrays["c0"]) if hx else None
    arrays["lengths"] = None if lengths is None else np.array(lengths)
    return params, arrays


def torch_lstm(torch, config, params, a, masks=None):
    """torch's output, h_n, c_n and every gradient, for the raw arrays."""
    dtype = getattr(torch, next(iter(params.values())).dtype.name)

    def module(layers, input_size):
        options = config.torch_options() | {"num_layers": layers, "input_size": input_size}
        return torch.nn.LSTM(**(options | {"dropout": 0.0}), dtype=dtype).eval()

    whole = module(config.num_layers, config.input_size)
    with torch.no_grad():
        for name, param in whole.named_parameters():
            param.copy_(torch.from_numpy(params[name]))
    x = torch.tensor(a["x"], requires_grad=True)
    h0 = torch.tensor(a["h0"], requires_grad=True)
    c0 = torch.tensor(a["c0"], requires_grad=True)
    hx = (h0, c0) if a["hx"] is not None else (h0 * 0, c0 * 0)

    def run(m, inp, state):
        if a["lengths"] is None:
            return m(inp, state)
        utils = torch.nn.utils.rnn
        packed = utils.pack_padded_sequence(
            inp, torch.as_tensor(a["lengths"]), batch_first=m.batch_first, enforce_sorted=False
        )
        out, finals = m(packed, state)
        out, _ = utils.pad_packed_sequence(out, batch_first=m.batch_first, total_length=T)
        return out, finals

    if masks is None:
        output, (h_n, c_n) = run(whole, x, hx)
    else:
        # one single-layer module per layer, sharing the very Parameters, our masks between
        K, inp, hs, cs = config.num_directions, x, [], []
        for layer in range(config.num_layers):
            single = module(1, config.layer_input_size(layer))
            own = re.compile(rf"_l{layer}(?=$|_)")
            for name, param in whole.named_parameters():
                if own.search(name):
                    setattr(single, own.sub("_l0", name), param)
            part = slice(layer * K, (layer + 1) * K)
            out, (h, c) = run(single, inp, (hx[0][part], hx[1][part]))
            hs.append(h)
            cs.append(c)
            inp = out * torch.tensor(masks[layer]) if layer < config.num_layers - 1 else out
        output, h_n, c_n = inp, torch.cat(hs), torch.cat(cs)
    loss = (output * torch.tensor(a["G"])).sum() + (h_n * torch.tensor(a["GH"])).sum()
    (loss + (c_n * torch.tensor(a["GC"])).sum()).backward()
    results = {
        "output": output.detach().numpy(),
        "h_n": h_n.detach().numpy(),
        "c_n": c_n.detach().numpy(),
        "grad_input": x.grad.numpy(),
    }
    if a["hx"] is not None:
        results |= {"grad_h0": h0.grad.numpy(), "grad_c0": c0.grad.numpy()}
    return results | {f"grad.{n}": p.grad.numpy() for n, p in whole.named_parameters()}


def ours(config, params, a, *, training=False, seed=0):
    lstm = rr.LSTM(**config.torch_options(), dtype=a["x"].dtype, seed=seed).train(training)
    lstm.load_state_dict(params)
    output, (h_n, c_n) = lstm(a["x"], a["hx"], a["lengths"])
    grad_input, (grad_h0, grad_c0) = lstm.backward(a["G"], (a["GH"], a["GC"]))
    results = {"output": output, "h_n": h_n, "c_n": c_n, "grad_input": grad_input}
    if a["hx"] is not None:
        results |= {"grad_h0": grad_h0, "grad_c0": grad_c0}
    return lstm, results | {f"grad.{n}": g for n, g in lstm.grads.items()}


FORWARD = ("output", "h_n", "c_n")
#: How a case calls the layer: batched or not, hx or zeros, lengths or all T steps.
CALLS = [
    {"hx": True},
    {"hx": True, "lengths": (3, 5, 1, 4)},
    {"hx": False, "lengths": (5, 2, 5, 4)},
    {"unbatched": True, "hx": True},
    {"unbatched": True, "hx": False},
    {"hx": False},
]
PRODUCT = [
    pytest.param(
        {
            "num_layers": layers,
            "bidirectional": bidirectional,
            "batch_first": batch_first,
            "bias": bias,
            "proj_size": proj,
        },
        CALLS[seed % len(CALLS)],
        dtype,
        seed,
        id=f"L{layers}-{'bi' if bidirectional else 'uni'}-{'bf' if batch_first else 'tm'}"
        f"-{'bias' if bias else 'nobias'}-P{proj}-{'-'.join(CALLS[seed % len(CALLS)])}-{dtype}",
    )
    for seed, (layers, bidirectional, batch_first, bias, proj, dtype) in enumerate(
        itertools.product(
            (1, 2, 3), (False, True), (False, True), (True, False), (0, 2), ("float64", "float32")
        )
    )
]


def compare(torch, options, call, dtype, seed, which):
    config = RNNConfig(D, H, **options, cell="LSTM")
    params, a = draw(config, dtype, seed=seed, **call)
    _, mine = ours(config, params, a)
    theirs = torch_lstm(torch, config, params, a)
    assert mine.keys() == theirs.keys()
    for name in which(theirs):
        assert mine[name].shape == theirs[name].shape, name
        assert mine[name].dtype == dtype, name
        error = scaled_error(mine[name], theirs[name])
        assert error <= TOLERANCE[dtype], f"{name}: scaled error {error:.2e}"


@pytest.mark.parametrize(("options", "call", "dtype", "seed"), PRODUCT)
def test_forward_matches_torch(torch: ModuleType, options, call, dtype, seed):
    compare(torch, options, call, dtype, seed, lambda _: FORWARD)


@pytest.mark.parametrize(("options", "call", "dtype", "seed"), PRODUCT)
def test_backward_matches_torch(torch: ModuleType, options, call, dtype, seed):
    compare(torch, options, call, dtype, seed, lambda r: [n for n in r if n not in FORWARD])


@pytest.mark.parametrize(
    ("options", "call"),
    [
        ({}, {}),
        ({"bidirectional": True, "proj_size": 2}, {"lengths": (2, 5, 4, 1)}),
        ({"batch_first": True, "bias": False}, {"unbatched": True}),
        ({"bidirectional": True, "batch_first": True}, {"hx": False}),
    ],
)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_dropout_in_training_matches_torch_with_the_same_masks(torch, options, call, dtype):
    config = RNNConfig(D, H, num_layers=3, dropout=0.5, **options, cell="LSTM")
    params, a = draw(config, dtype, seed=7, **call)
    lstm, mine = ours(config, params, a, training=True, seed=3)
    masks = lstm.dropout_masks
    K, P = config.num_directions, config.output_size
    assert [m.shape for m in masks] == [(*a["x"].shape[:-1], K * P)] * 2
    for mask in masks:
        assert set(np.unique(mask)) <= {0.0, 2.0}
        assert 0.3 < (mask == 0).mean() < 0.7
    theirs = torch_lstm(torch, config, params, a, masks)
    for name in theirs:
        assert mine[name].dtype == dtype, name
        assert scaled_error(mine[name], theirs[name]) <= TOLERANCE[dtype], name


def test_dropout_in_eval_matches_torch_eval(torch):
    config = RNNConfig(D, H, num_layers=2, dropout=0.5, cell="LSTM")
    params, a = draw(config, "float64", seed=8)
    lstm, mine = ours(config, params, a, training=False)
    assert lstm.dropout_masks == []
    theirs = torch_lstm(torch, config, params, a)
    for name in theirs:
        assert scaled_error(mine[name], theirs[name]) <= TOLERANCE["float64"], name


def test_lengths_zero_the_padding_and_take_the_states_at_each_length():
    lstm = rr.LSTM(D, H, bidirectional=True, proj_size=3, seed=0)
    x = np.random.default_rng(0).standard_normal((T, 2, D))
    output, (h_n, c_n) = lstm(x, lengths=[2, 5])
    assert not output[2:, 0].any()
    # each sequence alone, cut at its length, gives the same states
    alone, (h_alone, c_alone) = lstm(x[:2, :1])
    np.testing.assert_allclose(output[:2, :1], alone, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(h_n[:, :1], h_alone, rtol=1e-13)
    np.testing.assert_allclose(c_n[:, :1], c_alone, rtol=1e-13)


def test_state_dict_round_trips_through_torch(torch: ModuleType):
    lstm = rr.LSTM(D, H, num_layers=2, bidirectional=True, proj_size=2, seed=1)
    module = lstm.to_torch()
    assert isinstance(module, torch.nn.LSTM)
    assert (module.proj_size, module.num_layers, module.bidirectional) == (2, 2, True)
    for name, value in module.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), lstm.state_dict()[name])
    back = rr.LSTM.from_torch(module)
    assert back.config == lstm.config
    for name, value in back.state_dict().items():
        np.testing.assert_array_equal(value, lstm.state_dict()[name])


def test_from_torch_copies_the_configuration_dtype_and_mode(torch: ModuleType):
    with pytest.warns(UserWarning, match="dropout"):
        module = torch.nn.LSTM(3, 5, 1, False, True, 0.25, True, 2, dtype=torch.float32)
    module.eval()
    lstm = rr.LSTM.from_torch(module)
    assert lstm.config == RNNConfig(
        3,
        5,
        1,
        bias=False,
        batch_first=True,
        dropout=0.25,
        bidirectional=True,
        proj_size=2,
        cell="LSTM",
    )
    assert lstm.dtype == np.float32
    assert not lstm.training


def test_from_torch_takes_only_an_lstm(torch: ModuleType):
    with pytest.raises(TypeError, match=r"module must be a torch\.nn\.LSTM, got GRU"):
        rr.LSTM.from_torch(torch.nn.GRU(3, 4))
    with pytest.raises(TypeError, match=r"module must be a torch\.nn\.RNN, got LSTM"):
        rr.RNN.from_torch(torch.nn.LSTM(3, 4))


def test_parameters_are_attributes_with_torchs_names_and_shapes(torch: ModuleType):
    lstm = rr.LSTM(D, 5, num_layers=2, bidirectional=True, proj_size=2, seed=0)
    module = torch.nn.LSTM(D, 5, num_layers=2, bidirectional=True, proj_size=2)
    expected = [(name, tuple(p.shape)) for name, p in module.named_parameters()]
    assert [(name, value.shape) for name, value in lstm.params.items()] == expected
    assert lstm.weight_hr_l1_reverse.shape == (2, 5)
    assert lstm.weight_ih_l1.shape == (20, 4)  # D_1 = K * P


def test_default_init_is_torchs_uniform():
    lstm = rr.LSTM(3, 16, num_layers=2, seed=0)
    values = np.concatenate([v.ravel() for v in lstm.params.values()])
    assert np.abs(values).max() <= 1 / 4
    assert np.abs(values).max() > 0.24


def test_grads_are_replaced_named_as_torchs_and_the_biases_separate():
    lstm = rr.LSTM(D, H, proj_size=2, seed=0)
    output, _ = lstm(np.ones((T, 2, D)))
    lstm.backward(np.ones(output.shape))
    first = {name: grad.copy() for name, grad in lstm.grads.items()}
    lstm.backward(np.ones(output.shape))
    assert list(lstm.grads) == list(lstm.params)
    for name, grad in lstm.grads.items():
        np.testing.assert_array_equal(grad, first[name])  # replaced, not accumulated
    np.testing.assert_array_equal(lstm.grads["bias_ih_l0"], lstm.grads["bias_hh_l0"])
    assert not np.shares_memory(lstm.grads["bias_ih_l0"], lstm.grads["bias_hh_l0"])


def test_backward_takes_grad_hx_none_or_a_pair_with_none(torch):
    config = RNNConfig(D, H, num_layers=2, cell="LSTM")
    params, a = draw(config, "float64", seed=9)
    lstm = rr.LSTM(D, H, num_layers=2)
    lstm.load_state_dict(params)
    lstm(a["x"], a["hx"])
    none = lstm.backward(a["G"])
    pair_of_none = lstm.backward(a["G"], (None, None))
    a["GH"], a["GC"] = np.zeros_like(a["GH"]), np.zeros_like(a["GC"])
    theirs = torch_lstm(torch, config, params, a)
    for got in (none, pair_of_none):
        grad_input, (grad_h0, grad_c0) = got
        assert scaled_error(grad_input, theirs["grad_input"]) <= 1e-12
        assert scaled_error(grad_h0, theirs["grad_h0"]) <= 1e-12
        assert scaled_error(grad_c0, theirs["grad_c0"]) <= 1e-12


def test_outputs_are_read_only_and_inputs_untouched():
    lstm = rr.LSTM(D, H, proj_size=2, seed=0)
    x = np.ones((T, 2, D))
    hx = (np.ones((1, 2, 2)), np.ones((1, 2, H)))
    output, (h_n, c_n) = lstm(x, hx)
    grad_input, (grad_h0, grad_c0) = lstm.backward(np.ones(output.shape), (h_n + 1, c_n + 1))
    for out in (output, h_n, c_n):
        with pytest.raises(ValueError, match="read-only"):
            out[...] = 0
    for value in (x, *hx):
        np.testing.assert_array_equal(value, 1)
    assert grad_input.shape == x.shape
    assert (grad_h0.shape, grad_c0.shape) == ((1, 2, 2), (1, 2, H))


def test_float32_computes_in_float32():
    lstm = rr.LSTM(D, H, proj_size=2, dtype=np.float32)
    output, (h_n, c_n) = lstm(np.ones((2, 1, D), dtype=np.float32))
    grad_input, (grad_h0, grad_c0) = lstm.backward(np.ones_like(output))
    arrays = (output, h_n, c_n, grad_input, grad_h0, grad_c0, *lstm.grads.values())
    assert {a.dtype for a in arrays} == {np.dtype(np.float32)}


def test_train_eval_and_call():
    lstm = rr.LSTM(D, H, num_layers=2, dropout=0.5, seed=0)
    assert lstm.eval() is lstm
    assert not lstm.training
    x = np.ones((T, 2, D))
    np.testing.assert_array_equal(lstm(x)[0], lstm.forward(x)[0])


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({}, "LSTM(3, 4)"),
        ({"num_layers": 2, "proj_size": 2}, "LSTM(3, 4, proj_size=2, num_layers=2)"),
        ({"bias": False, "bidirectional": True}, "LSTM(3, 4, bias=False, bidirectional=True)"),
    ],
)
def test_repr_is_torchs(torch: ModuleType, kwargs, text):
    assert repr(rr.LSTM(3, 4, **kwargs)) == text == repr(torch.nn.LSTM(3, 4, **kwargs))


def test_the_configuration_says_lstm():
    config = rr.LSTM(D, H, proj_size=2, num_layers=2).config
    assert (config.mode, config.gate_size, config.output_size) == ("LSTM", 4 * H, 2)
    assert config.describe() == "L=2, LSTM, proj_size=2"
    assert RNNConfig(**config.options()) == config
    assert rr.LSTM(D, H).proj_size == 0
    assert rr.RNN(D, H).proj_size == 0


# -- bad arguments, in torch's words where torch has them ------------------------------------------


@pytest.mark.parametrize(
    ("proj_size", "error", "message"),
    [
        (-1, ValueError, "proj_size should be a positive integer or zero to disable projections"),
        (H, ValueError, "proj_size has to be smaller than hidden_size, got proj_size=4 and"),
        (1.0, TypeError, "proj_size should be of type int, got: float"),
        (True, TypeError, "proj_size should be of type int, got: bool"),
    ],
)
def test_bad_proj_size(proj_size, error, message):
    with pytest.raises(error, match=re.escape(message)):
        rr.LSTM(D, H, proj_size=proj_size)


def test_proj_size_is_an_lstm_option_and_cell_a_known_name():
    with pytest.raises(ValueError, match="proj_size argument is only supported for LSTM"):
        RNNConfig(D, H, proj_size=2)
    with pytest.raises(ValueError, match=r"cell must be one of \['RNN', 'LSTM', 'GRU'\]"):
        RNNConfig(D, H, cell="lstm")


def _lstm_and_call(unbatched=False):
    lstm = rr.LSTM(D, H, num_layers=2, bidirectional=True, proj_size=3, seed=0)
    x = np.ones((T, D)) if unbatched else np.ones((T, N, D))
    lead = (4,) if unbatched else (4, N)
    return lstm, x, (np.ones((*lead, 3)), np.ones((*lead, H)))


@pytest.mark.parametrize(
    ("hx", "error", "parts"),
    [
        (np.ones((4, N, 3)), TypeError, ("hx must be a tuple (h, c) of 2 arrays, got ndarray",)),
        ((np.ones((4, N, 3)),), TypeError, ("hx", "(h, c)", "got tuple of length 1")),
        ((np.ones((4, N, H)), np.ones((4, N, H))), ValueError, ("hx[0]", (4, N, 3), (4, N, H))),
        ((np.ones((4, N, 3)), np.ones((4, N, 3))), ValueError, ("hx[1]", (4, N, H), (4, N, 3))),
        ((np.ones((4, 3)), np.ones((4, N, H))), ValueError, ("batched 3-D", "hx[0]", "2-D")),
        ((np.ones((4, N, 3)), np.full((4, N, H), np.nan)), ValueError, ("hx[1]", "finite")),
    ],
)
def test_bad_hx_names_its_part(hx, error, parts):
    lstm, x, _ = _lstm_and_call()
    with pytest.raises(error, match="(?s)" + ".*".join(re.escape(str(p)) for p in parts)):
        lstm(x, hx)


def test_bad_unbatched_hx():
    lstm, x, (h0, c0) = _lstm_and_call(unbatched=True)
    with pytest.raises(ValueError, match=re.escape("hx[1] must have shape (4, 4)")):
        lstm(x, (h0, np.ones((4, 3))))
    with pytest.raises(ValueError, match="unbatched 2-D input, hx\\[0\\] should also be 2-D"):
        lstm(x, (h0[:, None], c0))


@pytest.mark.parametrize(
    ("grad_hx", "error", "parts"),
    [
        (np.ones((4, N, 3)), TypeError, ("grad_hx must be a tuple (h, c)",)),
        (
            (np.ones((4, N, 3)), np.ones((4, N, 3))),
            ValueError,
            ("grad_hx[1]", (4, N, H), "the shape of c_n"),
        ),
        ((None, np.full((4, N, H), np.inf)), ValueError, ("grad_hx[1]", "finite")),
    ],
)
def test_bad_grad_hx_names_its_part(grad_hx, error, parts):
    lstm, x, hx = _lstm_and_call()
    output, _ = lstm(x, hx)
    with pytest.raises(error, match="(?s)" + ".*".join(re.escape(str(p)) for p in parts)):
        lstm.backward(np.ones(output.shape), grad_hx)


def test_bad_input_is_named_in_torchs_terms():
    lstm, _, hx = _lstm_and_call()
    with pytest.raises(ValueError, match="input must have input_size = 3 features"):
        lstm(np.ones((T, N, 7)), hx)
    with pytest.raises(ValueError, match="input must be 3-D"):
        lstm(np.ones((1, T, N, D)), hx)
    with pytest.raises(RuntimeError, match=r"LSTM\.backward needs a successful forward first"):
        rr.LSTM(D, H).backward(np.ones((T, N, H)))


def test_load_state_dict_checks_the_projection():
    lstm = rr.LSTM(D, H, proj_size=2)
    sd = lstm.state_dict()
    with pytest.raises(ValueError, match=re.escape("state_dict['weight_hr_l0'] must have shape")):
        lstm.load_state_dict(sd | {"weight_hr_l0": np.ones((H, 2))})
    del sd["weight_hr_l0"]
    with pytest.raises(ValueError, match=re.escape("missing keys ['weight_hr_l0']")):
        lstm.load_state_dict(sd)


def test_an_overflow_is_named_with_its_layer_direction_and_torchs_parameter():
    lstm = rr.LSTM(D, H, bidirectional=True, proj_size=2, seed=0)
    # saturated gates (x = 0, b = 10): o * tanh(c_1) > 0.7 in every unit, and 4 * 0.7 * 1e308
    # overflows at the reverse direction's first step, the last in the caller's time
    lstm.params["bias_ih_l0_reverse"] = np.full(4 * H, 10.0)
    lstm.params["weight_hr_l0_reverse"] = np.full((2, H), 1e308)
    with pytest.raises(
        FloatingPointError, match=r"projected state.* at time step 4 \(layer 0, reverse direction"
    ):
        lstm(np.zeros((T, N, D)))
    lstm = rr.LSTM(D, H, bidirectional=True, proj_size=2, seed=0)
    lstm.params["weight_hr_l0"] = np.full((2, H), 1e-300)
    output, _ = lstm(np.ones((T, N, D)))
    with pytest.raises(FloatingPointError, match="the gradient of weight_hr_l0 overflowed"):
        lstm.backward(np.full(output.shape, 1e308))
