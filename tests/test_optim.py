"""Optimizers and clipping against torch.optim and torch.nn.utils: every option, step by step."""

from __future__ import annotations

import inspect
import itertools
import math
from types import ModuleType

import numpy as np
import pytest

from reference_rnn.core.measure import scaled_error
from reference_rnn.training import optim

SHAPES = {"Wx": (3, 4), "Wh": (4, 4), "b": (4,)}
STEPS = 50
TORCH_NAMES = {"SGD": "SGD", "AdaGrad": "Adagrad", "RMSprop": "RMSprop", "Adam": "Adam"}


def _grid(**options):
    """Every combination of the given option values, as keyword dicts."""
    names = list(options)
    return [
        dict(zip(names, values, strict=True)) for values in itertools.product(*options.values())
    ]


# lr is given to every one (torch's defaults are checked separately); the values below move each
# option's effect well above rounding: alpha and beta1 <= 0.5 take the other branch of torch's lerp
CASES = (
    [("SGD", {"lr": 0.1})]
    + [
        ("SGD", {"lr": 0.05, **kw})
        for kw in _grid(
            momentum=[0.0, 0.9],
            dampening=[0.0, 0.3],
            weight_decay=[0.0, 0.1],
            nesterov=[False, True],
        )
        if not kw["nesterov"] or (kw["momentum"] > 0 and kw["dampening"] == 0)
    ]
    + [
        ("AdaGrad", {"lr": 0.1, **kw})
        for kw in _grid(
            lr_decay=[0.0, 0.05],
            weight_decay=[0.0, 0.1],
            initial_accumulator_value=[0.0, 0.5],
            eps=[1e-10, 1e-2],
        )
    ]
    + [
        ("RMSprop", {"lr": 0.01, **kw})
        for kw in _grid(
            alpha=[0.99, 0.4],
            eps=[1e-8, 1e-2],
            weight_decay=[0.0, 0.1],
            momentum=[0.0, 0.9],
            centered=[False, True],
        )
    ]
    + [
        ("Adam", {"lr": 0.01, **kw})
        for kw in _grid(
            betas=[(0.9, 0.999), (0.3, 0.8)],
            eps=[1e-8, 1e-2],
            weight_decay=[0.0, 0.1],
            amsgrad=[False, True],
        )
    ]
)


def _problem(seed=0, dtype=np.float64):
    """Parameters and STEPS gradients whose scale changes from step to step (amsgrad's max moves)."""
    rng = np.random.default_rng(seed)
    params = {k: rng.uniform(-0.5, 0.5, s).astype(dtype) for k, s in SHAPES.items()}
    grads = [
        {k: (rng.standard_normal(s) * rng.uniform(0.1, 3)).astype(dtype) for k, s in SHAPES.items()}
        for _ in range(STEPS)
    ]
    return params, grads


def _run_torch(torch, name, kwargs, params, grads):
    """torch.optim's parameters after every step."""
    tparams = {k: torch.nn.Parameter(torch.tensor(v)) for k, v in params.items()}
    opt = getattr(torch.optim, TORCH_NAMES[name])(list(tparams.values()), **kwargs)
    history = []
    for g in grads:
        for k, p in tparams.items():
            p.grad = torch.tensor(g[k])
        opt.step()
        history.append({k: p.detach().numpy().copy() for k, p in tparams.items()})
    return history


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=str)
def test_every_step_equals_torch(torch: ModuleType, name, kwargs):
    params, grads = _problem()
    expected = _run_torch(torch, name, kwargs, params, grads)
    opt = getattr(optim, name)(**kwargs)
    ours = {k: v.copy() for k, v in params.items()}
    worst = 0.0
    for g, theirs in zip(grads, expected, strict=True):
        opt.update(ours, g)
        worst = max(worst, *(scaled_error(ours[k], theirs[k]) for k in SHAPES))
    assert worst <= 1e-12
    # the run moved the parameters far beyond the tolerance: the comparison had something to see
    assert min(scaled_error(ours[k], params[k]) for k in SHAPES) > 1e-3


@pytest.mark.parametrize("name", list(TORCH_NAMES))
def test_defaults_are_torchs(torch: ModuleType, name):
    ours = inspect.signature(getattr(optim, name)).parameters
    theirs = inspect.signature(getattr(torch.optim, TORCH_NAMES[name])).parameters
    assert list(ours)  # every argument of ours is one of torch's, with torch's default
    for arg, p in ours.items():
        assert arg in theirs, arg
        assert p.default == theirs[arg].default, arg
    # and a run with no arguments at all takes the same steps
    params, grads = _problem(seed=1)
    expected = _run_torch(torch, name, {}, params, grads[:5])[-1]
    opt = getattr(optim, name)()
    for g in grads[:5]:
        opt.update(params, g)
    for k in SHAPES:
        assert scaled_error(params[k], expected[k]) <= 1e-12


def test_float32_stays_float32_and_matches_torch(torch: ModuleType):
    params, grads = _problem(dtype=np.float32)
    kwargs = {"lr": 0.01, "amsgrad": True, "weight_decay": 0.1}
    expected = _run_torch(torch, "Adam", kwargs, params, grads)[-1]
    opt = optim.Adam(**kwargs)
    for g in grads:
        opt.update(params, g)
    for k in SHAPES:
        assert params[k].dtype == np.float32
        assert scaled_error(params[k], expected[k]) <= 1e-5


class Layer:
    def __init__(self, params, grads):
        self.params, self.grads = params, grads


def test_lists_dicts_and_layers_take_the_same_steps():
    params, grads = _problem()
    as_dict = {k: v.copy() for k, v in params.items()}
    as_list = [v.copy() for v in params.values()]
    layer = Layer([v.copy() for v in params.values()], None)
    opts = [optim.RMSprop(momentum=0.5, centered=True) for _ in range(3)]
    for g in grads[:10]:
        opts[0].update(as_dict, g)
        opts[1].update(as_list, list(g.values()))
        layer.grads = list(g.values())
        opts[2].update(layer)
    for i, k in enumerate(SHAPES):
        np.testing.assert_array_equal(as_list[i], as_dict[k])
        np.testing.assert_array_equal(layer.params[i], as_dict[k])
    assert list(opts[0].state) == list(SHAPES)  # state per key
    assert list(opts[1].state) == [0, 1, 2]  # and per position
    assert opts[1].state[0]["step"] == 10


def test_update_changes_params_in_place_and_never_grads():
    params, grads = _problem()
    arrays = list(params.values())
    before = {k: v.copy() for k, v in params.items()}
    g = {k: v.copy() for k, v in grads[0].items()}
    optim.SGD(lr=0.1, momentum=0.9).update(params, g)
    assert all(a is b for a, b in zip(params.values(), arrays, strict=True))
    for k in SHAPES:
        np.testing.assert_array_equal(g[k], grads[0][k])
        np.testing.assert_allclose(params[k], before[k] - 0.1 * g[k], rtol=0, atol=1e-15)


# -- clipping -----------------------------------------------------------------------------------


@pytest.mark.parametrize("norm_type", [2.0, 1, math.inf, "inf", 3.0, 0.5])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])  # clipped, and left alone
def test_clip_grad_norm_equals_torch(torch: ModuleType, norm_type, max_norm):
    _, grads = _problem()
    g = {k: v.copy() for k, v in grads[0].items()}
    tparams = [torch.nn.Parameter(torch.zeros(s, dtype=torch.float64)) for s in SHAPES.values()]
    for p, k in zip(tparams, SHAPES, strict=True):
        p.grad = torch.tensor(g[k])
    expected_total = torch.nn.utils.clip_grad_norm_(tparams, max_norm, norm_type=norm_type)
    total = optim.clip_grad_norm(g, max_norm, norm_type=norm_type)
    assert isinstance(total, float)
    assert total == pytest.approx(expected_total.item(), rel=1e-14, abs=0)
    for p, k in zip(tparams, SHAPES, strict=True):
        assert scaled_error(g[k], p.grad.numpy()) <= 1e-14
    clipped = max_norm < expected_total.item()
    assert clipped == (max_norm == 0.5)  # both branches are really exercised
    assert np.array_equal(g["Wx"], grads[0]["Wx"]) != clipped


def test_clip_grad_norm_of_nothing_is_zero():
    assert optim.clip_grad_norm([], 1.0) == 0.0


@pytest.mark.parametrize("clip_value", [0.0, 0.3, 10.0])
def test_clip_grad_value_equals_torch(torch: ModuleType, clip_value):
    _, grads = _problem()
    g = [v.copy() for v in grads[0].values()]
    tparams = [torch.nn.Parameter(torch.zeros(a.shape, dtype=torch.float64)) for a in g]
    for p, a in zip(tparams, g, strict=True):
        p.grad = torch.tensor(a)
    torch.nn.utils.clip_grad_value_(tparams, clip_value)
    assert optim.clip_grad_value(g, clip_value) is None
    for p, a in zip(tparams, g, strict=True):
        np.testing.assert_array_equal(a, p.grad.numpy())


# -- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: optim.SGD(lr=0.0), ValueError, r"Invalid learning rate: 0.0 \(lr must be > 0"),
        (lambda: optim.Adam(lr=-1), ValueError, "Invalid learning rate: -1"),
        (lambda: optim.SGD(lr="0.1"), TypeError, "lr must be a real number, got str"),
        (lambda: optim.SGD(lr=True), TypeError, "lr must be a real number, got bool"),
        (lambda: optim.SGD(lr=math.nan), ValueError, "lr must be finite, got nan"),
        (lambda: optim.SGD(momentum=-0.1), ValueError, "Invalid momentum value: -0.1"),
        (lambda: optim.SGD(weight_decay=-1e-3), ValueError, "Invalid weight_decay value"),
        (lambda: optim.SGD(nesterov=True), ValueError, "Nesterov momentum requires a momentum"),
        (
            lambda: optim.SGD(momentum=0.9, dampening=0.1, nesterov=True),
            ValueError,
            "and zero dampening",
        ),
        (lambda: optim.SGD(nesterov="yes"), TypeError, "nesterov must be a bool, got str"),
        (lambda: optim.AdaGrad(lr_decay=-1), ValueError, "Invalid lr_decay value: -1"),
        (
            lambda: optim.AdaGrad(initial_accumulator_value=-1),
            ValueError,
            "Invalid initial_accumulator_value value: -1",
        ),
        (lambda: optim.AdaGrad(eps=-1e-10), ValueError, "Invalid epsilon value: -1e-10"),
        (lambda: optim.RMSprop(alpha=-0.5), ValueError, "Invalid alpha value: -0.5"),
        (lambda: optim.RMSprop(centered=1), TypeError, "centered must be a bool, got int"),
        (lambda: optim.Adam(betas=(1.0, 0.999)), ValueError, "beta parameter at index 0: 1.0"),
        (lambda: optim.Adam(betas=(0.9, -0.1)), ValueError, "beta parameter at index 1: -0.1"),
        (lambda: optim.Adam(betas=0.9), TypeError, r"betas must be a pair \(beta1, beta2\)"),
        (lambda: optim.Adam(betas=(0.9, 0.9, 0.9)), TypeError, "betas must be a pair"),
        (lambda: optim.Adam(betas=(0.9, None)), TypeError, "betas.1. must be a real number"),
        (lambda: optim.Adam(amsgrad=None), TypeError, "amsgrad must be a bool"),
    ],
)
def test_bad_arguments_are_named(make, error, match):
    with pytest.raises(error, match=match):
        make()


def _bad_updates():
    good = [np.ones((2, 3)), np.ones(3)]
    grads = [np.ones((2, 3)), np.ones(3)]
    nan = [np.ones((2, 3)), np.array([1.0, np.nan, 1.0])]
    read_only = np.ones(3)
    read_only.flags.writeable = False
    return [
        ((good, grads[:1]), ValueError, "params and grads must have the same length, got 2 and 1"),
        (
            ({"a": good[0], "b": good[1]}, {"a": grads[0], "c": grads[1]}),
            ValueError,
            r"grads must have the keys of params: missing \['b'\], unexpected \['c'\]",
        ),
        ((good, {0: grads[0], 1: grads[1]}), TypeError, "both be lists or both be dicts"),
        (
            (good, [grads[0], np.ones(4)]),
            ValueError,
            r"grads\[1\] must have shape \(3,\) \(the shape of params\[1\]\), got \(4,\)",
        ),
        ((good, nan), ValueError, r"grads\[1\] must be finite, .*nothing was updated"),
        ((good, [grads[0], np.ones(3, complex)]), TypeError, r"grads\[1\] must be a real"),
        (([good[0], [1.0, 2.0, 3.0]], grads), TypeError, r"params\[1\] must be a floating NumPy"),
        (([good[0], np.ones(3, int)], grads), TypeError, "got an array of dtype int64"),
        (([good[0], read_only], grads), ValueError, r"params\[1\] must be writeable"),
        ((np.ones(3), np.ones(3)), TypeError, "params must be a list or a dict of arrays"),
        ((object(),), TypeError, "or an object with .params and .grads, got a object"),
        ((Layer(good, grads[:1]),), ValueError, "layer.params and layer.grads must have the same"),
    ]


@pytest.mark.parametrize(("args", "error", "match"), _bad_updates())
def test_a_refused_update_changes_nothing(args, error, match):
    opt = optim.Adam(lr=0.1)
    params = [np.ones((2, 3)), np.ones(3)]
    opt.update(params, [np.ones((2, 3)), np.ones(3)])
    before = [p.copy() for p in params]
    state = {k: {n: np.copy(v) for n, v in s.items()} for k, s in opt.state.items()}
    first = args[0]
    with pytest.raises(error, match=match):
        opt.update(*args)
    for p, b in zip(params, before, strict=True):
        np.testing.assert_array_equal(p, b)
    if isinstance(first, list):
        for p in first:
            if isinstance(p, np.ndarray) and p.dtype.kind == "f" and p.flags.writeable:
                np.testing.assert_array_equal(p, 1.0)  # none of the arguments moved
    assert opt.state.keys() == state.keys()
    for k, s in opt.state.items():
        for n, v in s.items():
            np.testing.assert_array_equal(v, state[k][n])


def test_state_for_another_shape_is_refused():
    opt = optim.SGD(lr=0.1, momentum=0.9)
    opt.update([np.ones(3)], [np.ones(3)])
    params = [np.ones(4)]
    with pytest.raises(ValueError, match=r"params\[0\] has shape \(4,\), but .* made for \(3,\)"):
        opt.update(params, [np.ones(4)])
    np.testing.assert_array_equal(params[0], 1.0)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda g: optim.clip_grad_norm(g, -1.0), ValueError, "Invalid max_norm value: -1.0"),
        (lambda g: optim.clip_grad_norm(g, 1.0, 0), ValueError, "Invalid norm_type: 0"),
        (lambda g: optim.clip_grad_norm(g, 1.0, "fro"), TypeError, "norm_type must be a real"),
        (lambda g: optim.clip_grad_norm(g, 1.0, -math.inf), ValueError, "norm_type must be fin"),
        (lambda g: optim.clip_grad_value(g, -1.0), ValueError, "Invalid clip_value value: -1.0"),
        (lambda g: optim.clip_grad_norm(g[0], 1.0), TypeError, "grads must be a list or a dict"),
        (lambda g: optim.clip_grad_norm([g[0], [1.0]], 1.0), TypeError, r"grads\[1\] must be a"),
    ],
)
def test_bad_clipping_arguments_are_named(call, error, match):
    g = [np.full(3, 10.0), np.full(2, 10.0)]
    with pytest.raises(error, match=match):
        call(g)
    for a in g:
        np.testing.assert_array_equal(a, 10.0)


@pytest.mark.parametrize("clip", [optim.clip_grad_norm, optim.clip_grad_value])
def test_clipping_refuses_what_it_cannot_clip_in_place(clip):
    read_only = np.full(3, 10.0)
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match=r"grads\['b'\] must be writeable"):
        clip({"a": np.full(2, 10.0), "b": read_only}, 1.0)
    g = [np.full(2, 10.0), np.array([1.0, np.inf])]
    with pytest.raises(ValueError, match=r"grads\[1\] must be finite, .*nothing was clipped"):
        clip(g, 1.0)
    np.testing.assert_array_equal(g[0], 10.0)
