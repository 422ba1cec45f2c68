"""Bad input, for every argument of every public entry point (docs/api.md, the contract).

A wrong call is a ValueError or TypeError whose message names the argument as the caller spelled
it and says what was expected and what came; never an IndexError or a NumPy broadcasting error;
and the arguments are never modified, whether the call succeeds or fails.

The first half is generic: ``ENTRIES`` builds, for each entry point, a callable and a valid set of
keyword arguments, and the tests substitute bad values for each array argument in turn. The second
half tests what is particular to each entry point.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest

import reference_rnn as rr
from reference_rnn.layers.rnn import RNN

N, T, D, H = 2, 3, 5, 4
L, K = 2, 2  # the RNN under test: two layers, bidirectional
BAD = 7  # a prime: no valid size divides it, as in torch's tests


# -- valid arguments ------------------------------------------------------------------------------


def args(N: int = N, T: int = T, D: int = D, H: int = H, dtype: Any = np.float64) -> dict:
    """Valid arguments of ``rnn_forward``: x (N, T, D), h0 (N, H), Wx (D, H), Wh (H, H), b (H,)."""
    rng = np.random.default_rng(0)
    shapes = {"x": (N, T, D), "h0": (N, H), "Wx": (D, H), "Wh": (H, H), "b": (H,)}
    return {name: rng.uniform(-0.5, 0.5, shape).astype(dtype) for name, shape in shapes.items()}


def step_args(N: int = N, D: int = D, H: int = H) -> dict:
    """Valid arguments of ``rnn_step_forward``: x (N, D), prev_h (N, H), Wx, Wh, b."""
    a = args(N=N, T=1, D=D, H=H)
    return {"x": a["x"][:, 0], "prev_h": a["h0"], "Wx": a["Wx"], "Wh": a["Wh"], "b": a["b"]}


def layer(return_sequences: bool = False) -> rr.SimpleRNN:
    a = args()
    return rr.SimpleRNN(a["Wx"], a["Wh"], a["b"], return_sequences=return_sequences)


def rnn(**kwargs: Any) -> RNN:
    return RNN(D, H, num_layers=L, bidirectional=K == 2, seed=0, **kwargs)


def rnn_args(N: int = N, T: int = T) -> dict:
    """Valid arguments of ``rnn().forward``: input (T, N, D), hx (L * K, N, H), lengths (N,)."""
    rng = np.random.default_rng(1)
    return {
        "input": rng.uniform(-1, 1, (T, N, D)),
        "hx": rng.uniform(-1, 1, (L * K, N, H)),
        "lengths": np.arange(N) % T + 1,
    }


def _step_backward() -> tuple[Callable[..., Any], dict]:
    h, cache = rr.rnn_step_forward(**step_args())
    return rr.rnn_step_backward, {"dnext_h": np.ones(h.shape), "cache": cache}


def _backward() -> tuple[Callable[..., Any], dict]:
    h, cache = rr.rnn_forward(**args())
    return rr.rnn_backward, {"dh": np.ones(h.shape), "cache": cache}


def lstm_args(N: int = N, T: int = T, D: int = D, H: int = H) -> dict:
    """Valid arguments of ``lstm_forward``: x (N, T, D), h0 (N, H), Wx (D, 4H), Wh (H, 4H),
    b (4H,), c0 (N, H)."""
    rng = np.random.default_rng(2)
    shapes = {"x": (N, T, D), "h0": (N, H), "Wx": (D, 4 * H), "Wh": (H, 4 * H), "b": (4 * H,)}
    shapes["c0"] = (N, H)
    return {name: rng.uniform(-0.5, 0.5, shape) for name, shape in shapes.items()}


def lstm_step_args() -> dict:
    """Valid arguments of ``lstm_step_forward``: x (N, D), prev_h, prev_c (N, H), Wx, Wh, b."""
    a = lstm_args(T=1)
    step = {"x": a["x"][:, 0], "prev_h": a["h0"], "prev_c": a["c0"]}
    return step | {name: a[name] for name in ("Wx", "Wh", "b")}


def _lstm_step_backward() -> tuple[Callable[..., Any], dict]:
    h, c, cache = rr.lstm_step_forward(**lstm_step_args())
    return rr.lstm_step_backward, {"dnext_h": np.ones(h.shape), "dnext_c": c + 1, "cache": cache}


def _lstm_backward() -> tuple[Callable[..., Any], dict]:
    h, cT, cache = rr.lstm_forward(**lstm_args())
    return rr.lstm_backward, {"dh": np.ones(h.shape), "dcT": cT + 1, "cache": cache}


def _simple_rnn() -> tuple[Callable[..., Any], dict]:
    a = args()
    return rr.SimpleRNN, {"Wx": a["Wx"], "Wh": a["Wh"], "b": a["b"]}


def _simple_forward() -> tuple[Callable[..., Any], dict]:
    a = args()
    return layer().forward, {"x": a["x"], "h_prev": a["h0"]}


def _simple_backward(return_sequences: bool) -> tuple[Callable[..., Any], dict]:
    a = args()
    lay = layer(return_sequences)
    out = lay.forward(a["x"], a["h0"])
    return lay.backward, {"dout": np.ones(out.shape)}


def _rnn_forward() -> tuple[Callable[..., Any], dict]:
    return rnn().forward, rnn_args()


def unbatched_rnn_args() -> dict:
    """Valid unbatched arguments of ``rnn().forward``: input (T, D), hx (L * K, H)."""
    a = rnn_args(N=1)
    return {"input": a["input"][:, 0], "hx": a["hx"][:, 0]}


def _rnn_forward_unbatched() -> tuple[Callable[..., Any], dict]:
    return rnn().forward, unbatched_rnn_args()


def _rnn_backward(forward_args: dict) -> tuple[Callable[..., Any], dict]:
    module = rnn()
    output, h_n = module(**forward_args)
    return module.backward, {"grad_output": np.ones(output.shape), "grad_h_n": np.ones(h_n.shape)}


def _load_state_dict() -> tuple[Callable[..., Any], dict]:
    module = rnn()
    return lambda **sd: module.load_state_dict(sd), module.state_dict()


ENTRIES: dict[str, Callable[[], tuple[Callable[..., Any], dict]]] = {
    "rnn_step_forward": lambda: (rr.rnn_step_forward, step_args()),
    "rnn_step_backward": _step_backward,
    "rnn_forward": lambda: (rr.rnn_forward, args()),
    "rnn_backward": _backward,
    "SimpleRNN": _simple_rnn,
    "SimpleRNN.forward": _simple_forward,
    "SimpleRNN.backward": lambda: _simple_backward(False),
    "SimpleRNN.backward[seq]": lambda: _simple_backward(True),
    "RNN.forward": _rnn_forward,
    "RNN.forward[unbatched]": _rnn_forward_unbatched,
    "RNN.backward": lambda: _rnn_backward(rnn_args()),
    "RNN.backward[unbatched]": lambda: _rnn_backward(unbatched_rnn_args()),
    "RNN.load_state_dict": _load_state_dict,
    "lstm_step_forward": lambda: (rr.lstm_step_forward, lstm_step_args()),
    "lstm_step_backward": _lstm_step_backward,
    "lstm_forward": lambda: (rr.lstm_forward, lstm_args()),
    "lstm_backward": _lstm_backward,
}

# Axes whose size the other arguments do not fix: changing them gives a valid call.
FREE_AXES = {
    ("rnn_forward", "x"): (1,),
    ("lstm_forward", "x"): (1,),
    ("SimpleRNN", "Wx"): (0,),
    ("SimpleRNN.forward", "x"): (1,),
    ("RNN.forward", "input"): (0,),
    ("RNN.forward[unbatched]", "input"): (0,),
}

# The keys of the state dict that the generic tests try: one of each kind, and one from the
# second layer's reverse direction, whose input is the first layer's two directions.
STATE_KEYS = {"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_ih_l1_reverse"}

# Every array argument: (entry point, keyword, valid shape).
ARRAYS = [
    (entry, name, value.shape)
    for entry, build in ENTRIES.items()
    for name, value in build()[1].items()
    if isinstance(value, np.ndarray) and (entry != "RNN.load_state_dict" or name in STATE_KEYS)
]
FLOAT_ARRAYS = [(entry, name) for entry, name, _ in ARRAYS if name != "lengths"]


def spelled(entry: str, name: str) -> str:
    """The argument as the caller spelled it, as the message must name it."""
    return f"state_dict[{name!r}]" if entry == "RNN.load_state_dict" else name


# -- helpers --------------------------------------------------------------------------------------


def raises(exc: Any, *parts: object) -> Any:
    """``pytest.raises`` whose message contains ``parts``, in order."""
    return pytest.raises(exc, match="(?s)" + ".*".join(re.escape(str(p)) for p in parts))


def assert_identical(a: np.ndarray, b: np.ndarray) -> None:
    """Same values, shape and dtype (``assert_array_equal(strict=True)`` needs NumPy 1.24)."""
    assert (a.shape, a.dtype) == (b.shape, b.dtype)
    np.testing.assert_array_equal(a, b)


@contextmanager
def unchanged(kwargs: dict) -> Iterator[None]:
    """The arrays among ``kwargs``' values keep their values and ``flags.writeable``."""
    arrays = [v for v in kwargs.values() if isinstance(v, np.ndarray)]
    before = [(a, a.copy(), a.flags.writeable) for a in arrays]
    yield
    for a, copy, writeable in before:
        assert_identical(a, copy)
        assert a.flags.writeable == writeable


def call(entry: str, exc: Any, *parts: object, **overrides: Any) -> None:
    """Call ``entry`` with valid arguments but ``overrides``: it raises ``exc`` naming ``parts``,
    and modifies no argument."""
    fn, kwargs = ENTRIES[entry]()
    kwargs |= overrides
    with unchanged(kwargs), raises(exc, *parts):
        fn(**kwargs)


def wrong_shapes(shape: tuple[int, ...], free: tuple[int, ...] = ()) -> list[tuple[int, ...]]:
    """Shapes an argument of ``shape`` must not accept: other ndims, and each axis set to BAD."""
    candidates = {(), (BAD,), shape[1:], shape[:-1], (*shape, 1), (1, *shape)}
    candidates |= {(*shape[:i], BAD, *shape[i + 1 :]) for i in range(len(shape)) if i not in free}
    return sorted(candidates - {shape})


class Unconvertible:
    """An array_like whose conversion fails, on every NumPy version."""

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        msg = "this object cannot be an array"
        raise ValueError(msg)


# -- every argument of every entry point ----------------------------------------------------------

ARRAY_IDS = [f"{entry}-{name}" for entry, name, _ in ARRAYS]


@pytest.mark.parametrize(("entry", "name", "shape"), ARRAYS, ids=ARRAY_IDS)
def test_wrong_shapes_are_value_or_type_errors_naming_an_argument(entry, name, shape):
    for bad in wrong_shapes(shape, FREE_AXES.get((entry, name), ())):
        fn, kwargs = ENTRIES[entry]()
        kwargs[name] = np.ones(bad, dtype=kwargs[name].dtype)
        with unchanged(kwargs), pytest.raises((ValueError, TypeError)) as info:
            fn(**kwargs)
        message = str(info.value)
        assert "broadcast" not in message, (bad, message)
        # a mismatch may be blamed on either side, but always on an argument, in words
        named = [arg for arg in kwargs if re.search(rf"(?<!\w){re.escape(arg)}(?!\w)", message)]
        assert named, (bad, message)


SHAPE_ERRORS = [
    # entry point, argument, bad shape, what the message says, in order
    ("rnn_step_forward", "x", (N, T, D), ("x", "2-D", "(N, D)", "3-D", (N, T, D))),
    ("rnn_step_forward", "x", (N, BAD), ("Wx", (BAD, H), (N, BAD), (D, H), f"x must have D = {D}")),
    ("rnn_step_forward", "prev_h", (BAD, H), ("prev_h", (N, H), (BAD, H))),
    ("rnn_step_forward", "prev_h", (H,), ("prev_h", (N, H), (H,))),
    ("rnn_step_forward", "Wx", (BAD, H), ("Wx", (D, H), (BAD, H))),
    ("rnn_step_forward", "Wx", (D * H,), ("Wx", "2-D", "1-D", (D * H,))),
    ("rnn_step_forward", "Wh", (H, BAD), ("Wh", (H, H), (H, BAD))),
    ("rnn_step_forward", "b", (BAD,), ("b", (H,), (BAD,))),
    ("rnn_step_forward", "b", (1, H), ("b", (H,), (1, H))),
    ("rnn_step_backward", "dnext_h", (N, BAD), ("dnext_h", (N, H), (N, BAD))),
    ("rnn_step_backward", "dnext_h", (1, N, H), ("dnext_h", (N, H), (1, N, H))),
    ("rnn_forward", "x", (N, D), ("x", "3-D", "(N, T, D)", "2-D", (N, D))),
    ("rnn_forward", "x", (1, N, T, D), ("x", "3-D", "4-D", (1, N, T, D))),
    (
        "rnn_forward",
        "x",
        (N, T, BAD),
        ("Wx", (BAD, H), (N, T, BAD), (D, H), f"x must have D = {D}"),
    ),
    ("rnn_forward", "x", (BAD, T, D), ("h0", (BAD, H), "from x", (N, H))),
    ("rnn_forward", "h0", (BAD, H), ("h0", (N, H), (BAD, H))),
    ("rnn_forward", "h0", (1, N, H), ("h0", (N, H), (1, N, H))),
    ("rnn_forward", "Wx", (BAD, H), ("Wx", (D, H), (BAD, H))),
    ("rnn_forward", "Wx", (D, H, 1), ("Wx", "2-D", "3-D", (D, H, 1))),
    ("rnn_forward", "Wx", (D, BAD), ("Wh", (BAD, BAD), "from Wx", (H, H))),
    ("rnn_forward", "Wh", (BAD, H), ("Wh", (H, H), (BAD, H))),
    ("rnn_forward", "b", (BAD,), ("b", (H,), (BAD,))),
    ("rnn_forward", "b", (), ("b", (H,), "()")),
    ("rnn_backward", "dh", (N, T, BAD), ("dh", (N, T, H), (N, T, BAD))),
    ("rnn_backward", "dh", (N, BAD, H), ("dh", (N, T, H), (N, BAD, H))),
    ("rnn_backward", "dh", (N, H), ("dh", (N, T, H), (N, H))),
    ("SimpleRNN", "Wx", (D,), ("Wx", "2-D", "1-D", (D,))),
    ("SimpleRNN", "Wh", (BAD, BAD), ("Wh", (H, H), (BAD, BAD))),
    ("SimpleRNN", "b", (BAD,), ("b", (H,), (BAD,))),
    ("SimpleRNN.forward", "x", (N, D), ("x", "3-D", "2-D", (N, D))),
    ("SimpleRNN.forward", "h_prev", (BAD, H), ("h_prev", (N, H), (BAD, H))),
    ("SimpleRNN.forward", "h_prev", (N, BAD), ("h_prev", (N, H), (N, BAD))),
    ("SimpleRNN.backward", "dout", (N, BAD), ("dout", (N, H), (N, BAD))),
    ("SimpleRNN.backward", "dout", (N, T, H), ("dout", (N, H), (N, T, H))),
    ("SimpleRNN.backward[seq]", "dout", (N, T, BAD), ("dout", (N, T, H), (N, T, BAD))),
    ("SimpleRNN.backward[seq]", "dout", (N, H), ("dout", (N, T, H), (N, H))),
    ("RNN.forward", "input", (1, T, N, D), ("input", "3-D", "2-D", "4-D", (1, T, N, D))),
    ("RNN.forward", "input", (D,), ("input", "3-D", "2-D", "1-D", (D,))),
    ("RNN.forward", "input", (T, N, BAD), ("input", f"input_size = {D}", (T, N, BAD))),
    ("RNN.forward", "hx", (L * K, N, BAD), ("hx", (L * K, N, H), (L * K, N, BAD))),
    ("RNN.forward", "hx", (BAD, N, H), ("hx", (L * K, N, H), (BAD, N, H))),
    ("RNN.forward", "hx", (L * K, BAD, H), ("hx", (L * K, N, H), (L * K, BAD, H))),
    ("RNN.forward", "hx", (N, H), ("batched 3-D input", "hx", "3-D", "2-D")),
    ("RNN.forward", "lengths", (BAD,), ("lengths", (N,), (BAD,))),
    ("RNN.forward", "lengths", (N, 1), ("lengths", (N,), (N, 1))),
    ("RNN.forward[unbatched]", "input", (T, BAD), ("input", f"input_size = {D}", (T, BAD))),
    ("RNN.forward[unbatched]", "hx", (L * K, BAD), ("hx", (L * K, H), (L * K, BAD))),
    ("RNN.forward[unbatched]", "hx", (L * K, 1, H), ("unbatched 2-D input", "hx", "2-D", "3-D")),
    ("RNN.backward", "grad_output", (T, N, BAD), ("grad_output", (T, N, K * H), (T, N, BAD))),
    ("RNN.backward", "grad_output", (N, T, K * H), ("grad_output", (T, N, K * H), (N, T, K * H))),
    ("RNN.backward", "grad_h_n", (L * K, BAD, H), ("grad_h_n", (L * K, N, H), (L * K, BAD, H))),
    ("RNN.backward", "grad_h_n", (N, H), ("grad_h_n", (L * K, N, H), (N, H))),
    (
        "RNN.backward[unbatched]",
        "grad_output",
        (T, 1, K * H),
        ("grad_output", (T, K * H), (T, 1, K * H)),
    ),
    ("RNN.backward[unbatched]", "grad_h_n", (L * K, 1, H), ("grad_h_n", (L * K, H), (L * K, 1, H))),
    ("RNN.load_state_dict", "weight_ih_l0", (H, BAD), ("'weight_ih_l0'", (H, D), (H, BAD))),
    ("RNN.load_state_dict", "weight_ih_l1", (H, D), ("'weight_ih_l1'", (H, K * H), (H, D))),
    ("RNN.load_state_dict", "weight_hh_l0_reverse", (H,), ("'weight_hh_l0_reverse'", (H, H), (H,))),
    ("RNN.load_state_dict", "bias_hh_l1", (BAD,), ("state_dict['bias_hh_l1']", (H,), (BAD,))),
]


@pytest.mark.parametrize(
    ("entry", "name", "shape", "parts"),
    SHAPE_ERRORS,
    ids=[f"{e}-{n}-{s}" for e, n, s, _ in SHAPE_ERRORS],
)
def test_shape_error_says_what_was_expected_and_what_came(entry, name, shape, parts):
    dtype = np.int64 if name == "lengths" else np.float64
    call(entry, ValueError, *parts, **{name: np.ones(shape, dtype=dtype)})


def test_simple_rnn_forward_names_x_and_its_feature_size():
    call(
        "SimpleRNN.forward",
        ValueError,
        "x",
        (N, T, BAD),
        f"x must have D = {D}",
        x=np.ones((N, T, BAD)),
    )


@pytest.mark.parametrize("value", [np.nan, -np.inf], ids=["nan", "-inf"])
@pytest.mark.parametrize(("entry", "name"), [p for p in FLOAT_ARRAYS if p[0] != "SimpleRNN"])
def test_non_finite_is_a_value_error(entry, name, value):
    _, kwargs = ENTRIES[entry]()
    bad = kwargs[name].copy()
    bad.flat[-1] = value
    call(entry, ValueError, spelled(entry, name), "finite", **{name: bad})


@pytest.mark.parametrize("name", ["Wx", "Wh", "b"])
def test_simple_rnn_rejects_non_finite_weights(name):
    a = args()
    lay = rr.SimpleRNN(a["Wx"], a["Wh"], a["b"])
    a[name].flat[0] = np.nan
    with raises(ValueError, name, "finite"):
        rr.SimpleRNN(a["Wx"], a["Wh"], a["b"])
    # and at forward, after an in-place update of the layer's own weights
    lay.params[["Wx", "Wh", "b"].index(name)].flat[0] = np.inf
    with raises(ValueError, name, "finite"):
        lay.forward(a["x"], a["h0"])


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("name", ["weight_ih_l0", "weight_hh_l1_reverse", "bias_hh_l1"])
def test_rnn_rejects_a_parameter_made_non_finite_in_place(name, value):
    # the parameters stay writable (optimizers update them in place), so forward checks them
    rnn = rr.RNN(3, 4, num_layers=2, bidirectional=True, seed=0)
    x = np.ones((5, 2, 3))
    output, _ = rnn(x)
    rnn.params[name].flat[0] = value
    assert not np.isfinite(getattr(rnn, name).flat[0])  # params is live: the attribute sees it
    with pytest.raises(ValueError, match=f"^{name} must be finite"):
        rnn(x)
    with pytest.raises(RuntimeError, match="needs a successful forward"):
        rnn.backward(np.ones_like(output))


@pytest.mark.parametrize(
    ("entry", "name"),
    [
        ("SimpleRNN.forward", "x"),
        ("SimpleRNN.forward", "h_prev"),
        ("SimpleRNN.backward", "dout"),
        ("RNN.forward", "input"),
        ("RNN.forward", "hx"),
        ("RNN.backward", "grad_output"),
        ("RNN.backward", "grad_h_n"),
        ("RNN.load_state_dict", "weight_hh_l0"),
    ],
)
def test_non_finite_message_offers_only_options_that_exist(entry, name):
    fn, kwargs = ENTRIES[entry]()
    kwargs[name] = np.full(kwargs[name].shape, np.nan)
    with pytest.raises(ValueError, match="finite") as info:
        fn(**kwargs)
    assert "check_finite" not in str(info.value)


FUNCTIONAL_ARRAYS = [
    (entry, name)
    for entry in ("rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward")
    for name in ENTRIES[entry]()[1]
    if name != "cache"
]


@pytest.mark.parametrize("value", [np.nan, np.inf], ids=["nan", "inf"])
@pytest.mark.parametrize(("entry", "name"), FUNCTIONAL_ARRAYS)
def test_check_finite_false_lets_what_the_default_refuses_through(entry, name, value):
    fn, kwargs = ENTRIES[entry]()
    kwargs[name] = kwargs[name].copy()
    kwargs[name].flat[-1] = value
    with pytest.raises(ValueError, match=f"{name} must be finite"):
        fn(**kwargs)
    with unchanged(kwargs), np.errstate(all="ignore"):  # inf - inf: NumPy's warning, not ours
        result = fn(**kwargs, check_finite=False)
    assert len(result) == (2 if entry.endswith("forward") else 5)


@pytest.mark.parametrize(("entry", "name"), FUNCTIONAL_ARRAYS)
def test_with_check_finite_false_a_nan_propagates(entry, name):
    # a NaN cannot vanish (unlike inf, which tanh maps to 1): it must reach some result
    fn, kwargs = ENTRIES[entry]()
    kwargs[name] = kwargs[name].copy()
    kwargs[name].flat[-1] = np.nan
    result = fn(**kwargs, check_finite=False)
    assert any(np.isnan(r).any() for r in result if isinstance(r, np.ndarray))


NON_REAL = {
    "complex": lambda a: a.astype(np.complex128),
    "object": lambda a: a.astype(object),
    "str": lambda a: a.astype(str),
}


@pytest.mark.parametrize("kind", NON_REAL)
@pytest.mark.parametrize(("entry", "name"), [(e, n) for e, n, _ in ARRAYS])
def test_complex_object_and_string_arrays_are_a_type_error(entry, name, kind):
    _, kwargs = ENTRIES[entry]()
    bad = NON_REAL[kind](kwargs[name])
    call(entry, TypeError, spelled(entry, name), "dtype", bad.dtype, **{name: bad})


ARRAY_NAMES = [(e, n) for e, n, _ in ARRAYS]


@pytest.mark.filterwarnings("ignore:Creating an ndarray from ragged")
@pytest.mark.parametrize(("entry", "name"), ARRAY_NAMES)
def test_ragged_nested_list_is_a_type_error(entry, name):
    call(entry, TypeError, spelled(entry, name), **{name: [[1.0], [1.0, 2.0]]})


@pytest.mark.parametrize(("entry", "name"), ARRAY_NAMES)
def test_failed_array_conversion_is_a_type_error(entry, name):
    call(entry, TypeError, spelled(entry, name), "cannot be an array", **{name: Unconvertible()})


@pytest.mark.parametrize("writeable", [True, False], ids=["writeable", "read-only"])
@pytest.mark.parametrize("entry", ENTRIES)
def test_a_successful_call_modifies_no_argument(entry, writeable):
    fn, kwargs = ENTRIES[entry]()
    for value in kwargs.values():
        if isinstance(value, np.ndarray):
            value.flags.writeable = writeable
    with unchanged(kwargs):
        fn(**kwargs)


# -- zero time steps and empty batches ------------------------------------------------------------

ZERO_STEPS = [
    ("rnn_forward", "x", (N, 0, D)),
    ("SimpleRNN.forward", "x", (N, 0, D)),
    ("RNN.forward", "input", (0, N, D)),
    ("RNN.forward[unbatched]", "input", (0, D)),
]


@pytest.mark.parametrize(("entry", "name", "shape"), ZERO_STEPS)
def test_zero_time_steps_is_a_value_error(entry, name, shape):
    call(entry, ValueError, name, "at least one time step", shape, **{name: np.ones(shape)})


def test_zero_time_steps_batch_first():
    module = rnn(batch_first=True)
    with raises(ValueError, "input", "at least one time step", (N, 0, D)):
        module(np.ones((N, 0, D)))


def test_functional_core_accepts_an_empty_batch():
    next_h, cache = rr.rnn_step_forward(**step_args(N=0))
    assert next_h.shape == (0, H)
    grads = rr.rnn_step_backward(np.ones((0, H)), cache)
    assert [g.shape for g in grads] == [(0, D), (0, H), (D, H), (H, H), (H,)]

    h, cache = rr.rnn_forward(**args(N=0))
    assert h.shape == (0, T, H)
    grads = rr.rnn_backward(np.ones((0, T, H)), cache)
    assert [g.shape for g in grads] == [(0, T, D), (0, H), (D, H), (H, H), (H,)]
    assert not any(g.any() for g in grads[2:])


@pytest.mark.parametrize("return_sequences", [False, True])
def test_simple_rnn_accepts_an_empty_batch(return_sequences):
    lay = layer(return_sequences)
    out = lay.forward(np.ones((0, T, D)), np.ones((0, H)))
    assert out.shape == ((0, T, H) if return_sequences else (0, H))
    assert lay.backward(np.ones(out.shape)).shape == (0, T, D)
    assert [g.shape for g in lay.grads] == [(D, H), (H, H), (H,)]
    assert lay.dh_prev is not None
    assert lay.dh_prev.shape == (0, H)


@pytest.mark.parametrize("batch_first", [False, True])
def test_rnn_accepts_an_empty_batch(batch_first):
    module = rnn(batch_first=batch_first)
    x = np.ones((0, T, D) if batch_first else (T, 0, D))
    output, h_n = module(x, np.ones((L * K, 0, H)), np.array([], dtype=np.int64))
    assert output.shape == ((0, T, K * H) if batch_first else (T, 0, K * H))
    assert h_n.shape == (L * K, 0, H)
    grad_input, grad_hx = module.backward(np.ones(output.shape), np.ones(h_n.shape))
    assert grad_input.shape == x.shape
    assert grad_hx.shape == h_n.shape
    assert {k: g.shape for k, g in module.grads.items()} == {
        k: p.shape for k, p in module.state_dict().items()
    }


# -- the functional core: caches and nonlinearity -------------------------------------------------

NOT_A_CACHE = [None, (1, 2), {"h": np.zeros((T + 1, N, H))}]


@pytest.mark.parametrize("cache", NOT_A_CACHE, ids=["None", "tuple", "dict"])
@pytest.mark.parametrize("entry", ["rnn_step_backward", "rnn_backward"])
def test_a_cache_that_is_not_one_is_a_type_error(entry, cache):
    made_by = entry.replace("backward", "forward")
    call(entry, TypeError, "cache", made_by, type(cache).__name__, cache=cache)


def test_the_step_and_sequence_caches_are_not_interchangeable():
    _, step_cache = rr.rnn_step_forward(**step_args())
    _, seq_cache = rr.rnn_forward(**args())
    call("rnn_backward", TypeError, "cache", "rnn_forward", "rnn_step_forward", cache=step_cache)
    call(
        "rnn_step_backward", TypeError, "cache", "rnn_step_forward", "rnn_forward", cache=seq_cache
    )


@pytest.mark.parametrize("nonlinearity", ["sigmoid", "Tanh", "", None, 1, ("tanh",)])
@pytest.mark.parametrize("entry", ["rnn_step_forward", "rnn_forward"])
def test_unknown_nonlinearity(entry, nonlinearity):
    call(
        entry,
        (ValueError, TypeError),
        "nonlinearity",
        repr(nonlinearity),
        nonlinearity=nonlinearity,
    )


# -- SimpleRNN and RNN: backward needs a successful forward ---------------------------------------


def test_simple_rnn_backward_before_forward():
    with raises(RuntimeError, "forward"):
        layer().backward(np.ones((N, H)))


def test_simple_rnn_failed_forward_clears_the_cache():
    a = args()
    lay = layer()
    lay.forward(a["x"], a["h0"])
    with raises(ValueError, "h_prev"):
        lay.forward(a["x"], np.ones((BAD, H)))
    with raises(RuntimeError, "forward"):
        lay.backward(np.ones((N, H)))


def test_rnn_backward_before_forward():
    with raises(RuntimeError, "forward"):
        rnn().backward(np.ones((T, N, K * H)))


def test_rnn_failed_forward_clears_the_last_forward():
    module = rnn()
    module(**rnn_args())
    with raises(ValueError, "lengths"):
        module(**rnn_args() | {"lengths": np.array([0, 1])})
    with raises(RuntimeError, "forward"):
        module.backward(np.ones((T, N, K * H)))


# -- the RNN constructor --------------------------------------------------------------------------

SIZES = ["input_size", "hidden_size", "num_layers"]


def rnn_kwargs(**overrides: Any) -> dict:
    return {"input_size": D, "hidden_size": H, "num_layers": L} | overrides


@pytest.mark.parametrize("value", [True, False, 4.0, "4", None, np.float64(4)])
@pytest.mark.parametrize("name", SIZES)
def test_rnn_size_of_wrong_type(name, value):
    with raises(TypeError, name, "should be of type int", type(value).__name__):
        RNN(**rnn_kwargs(**{name: value}))


@pytest.mark.parametrize("value", [0, -1, np.int64(0)])
@pytest.mark.parametrize("name", SIZES)
def test_rnn_size_not_positive(name, value):
    with raises(ValueError, name, "must be greater than zero", value):
        RNN(**rnn_kwargs(**{name: value}))


def test_rnn_accepts_numpy_integer_sizes():
    module = RNN(np.int64(D), np.int32(H), np.uint8(L))
    assert (module.input_size, module.hidden_size, module.num_layers) == (D, H, L)


@pytest.mark.parametrize("dropout", [-0.1, 1.5, np.nan, np.inf, True, "0.5", None, [0.5]])
def test_rnn_dropout_out_of_range_or_not_a_number(dropout):
    with raises(
        (ValueError, TypeError), "dropout should be a number in range [0, 1]", repr(dropout)
    ):
        RNN(D, H, num_layers=2, dropout=dropout)


@pytest.mark.parametrize("dropout", [0.5, 1])
def test_rnn_dropout_with_one_layer_warns(dropout):
    expected = (
        "dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
        f"expects num_layers greater than 1, but got dropout={dropout} and num_layers=1"
    )
    with pytest.warns(UserWarning, match=re.escape(expected)):
        RNN(D, H, dropout=dropout)


def test_rnn_dropout_with_several_layers_does_not_warn():
    RNN(D, H, num_layers=2, dropout=0.5)  # filterwarnings = error


@pytest.mark.parametrize("nonlinearity", ["sigmoid", "RELU", None, 0])
def test_rnn_unknown_nonlinearity(nonlinearity):
    with raises((ValueError, TypeError), "nonlinearity", repr(nonlinearity), "'tanh' or 'relu'"):
        RNN(D, H, nonlinearity=nonlinearity)


@pytest.mark.parametrize("dtype", [np.float16, np.int64, np.complex128, bool, "longdouble"])
def test_rnn_dtype_other_than_float32_or_float64(dtype):
    with raises(TypeError, "dtype", "float32 or float64", np.dtype(dtype)):
        RNN(D, H, dtype=dtype)


def test_rnn_dtype_not_a_dtype():
    with pytest.raises(TypeError):
        RNN(D, H, dtype="not a dtype")


# -- RNN.forward: lengths -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "lengths",
    [np.array([3.0, 1.0]), [3.0, 1.0], np.array([True, True]), ["3", "1"]],
    ids=["float", "float-list", "bool", "str"],
)
def test_lengths_not_integers(lengths):
    call(
        "RNN.forward", TypeError, "lengths", "integers", np.asarray(lengths).dtype, lengths=lengths
    )


@pytest.mark.parametrize("lengths", [[0, 1], [T + 1, 1], [-1, 2], [1, BAD]])
def test_lengths_out_of_range(lengths):
    call("RNN.forward", ValueError, "lengths", f"[1, {T}]", lengths, lengths=np.array(lengths))


def test_lengths_with_unbatched_input():
    call("RNN.forward[unbatched]", ValueError, "lengths", "batched", lengths=np.array([T]))


# -- RNN.load_state_dict and RNN.from_torch -------------------------------------------------------


def test_load_state_dict_lists_missing_and_unexpected_keys():
    module = rnn()
    before = module.state_dict()
    sd = module.state_dict()
    del sd["bias_hh_l0"], sd["weight_ih_l1_reverse"]
    sd["weight_ih_l2"] = np.ones((H, K * H))
    with (
        unchanged(sd),
        raises(
            ValueError,
            "missing",
            "'bias_hh_l0'",
            "'weight_ih_l1_reverse'",
            "unexpected",
            "'weight_ih_l2'",
        ),
    ):
        module.load_state_dict(sd)
    _assert_state_equal(module.state_dict(), before)


@pytest.mark.parametrize("bad", ["misshapen", "nan", "complex"])
def test_load_state_dict_changes_nothing_when_one_value_is_wrong(bad):
    module = rnn()
    before = module.state_dict()
    sd = {name: value + 1 for name, value in before.items()}  # all different, the last one wrong
    last = "bias_hh_l1_reverse"
    sd[last] = {
        "misshapen": np.ones(BAD),
        "nan": np.full(H, np.nan),
        "complex": np.ones(H, dtype=np.complex128),
    }[bad]
    with unchanged(sd), pytest.raises((ValueError, TypeError), match=re.escape(repr(last))):
        module.load_state_dict(sd)
    _assert_state_equal(module.state_dict(), before)


def _assert_state_equal(a: dict, b: dict) -> None:
    assert list(a) == list(b)
    for name, value in a.items():
        assert_identical(value, b[name])


def test_load_state_dict_lists_every_misshapen_key():
    module = rnn()
    sd = module.state_dict() | {"weight_ih_l0": np.ones((H, BAD)), "weight_hh_l1": np.ones(BAD)}
    with raises(ValueError, "'weight_ih_l0'", "'weight_hh_l1'"):
        module.load_state_dict(sd)


@pytest.mark.parametrize("sd", [None, 5])
def test_load_state_dict_not_a_mapping(sd):
    with raises(TypeError, "state_dict"):
        rnn().load_state_dict(sd)


def test_load_state_dict_misshapen_torch_tensor():
    torch = pytest.importorskip("torch")
    module = rnn()
    before = module.state_dict()
    sd = {name: torch.from_numpy(value) for name, value in before.items()}
    sd["weight_hh_l0"] = torch.ones(H, BAD, dtype=torch.float64)
    with raises(ValueError, "state_dict['weight_hh_l0']", (H, H), (H, BAD)):
        module.load_state_dict(sd)
    _assert_state_equal(module.state_dict(), before)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_from_torch_rejects_other_recurrent_modules(kind):
    torch = pytest.importorskip("torch")
    module = getattr(torch.nn, kind)(D, H)
    with raises(TypeError, "module", "torch.nn.RNN", kind):
        RNN.from_torch(module)


@pytest.mark.parametrize("module", [None, object(), rnn()], ids=["None", "object", "our RNN"])
def test_from_torch_rejects_non_torch_objects(module):
    with raises(TypeError, "module", "torch.nn.RNN", type(module).__name__):
        RNN.from_torch(module)


@pytest.mark.parametrize("flag", ["bias", "batch_first", "bidirectional"])
@pytest.mark.parametrize("value", ["no", 1, None, np.array([True, False])])
def test_rnn_flags_must_be_bools(flag, value):
    with raises(TypeError, flag, "must be a bool", type(value).__name__):
        RNN(D, H, **{flag: value})


def test_simple_rnn_return_sequences_must_be_a_bool():
    a = args()
    with raises(TypeError, "return_sequences", "must be a bool", "str"):
        rr.SimpleRNN(a["Wx"], a["Wh"], a["b"], "no")
    assert rr.SimpleRNN(a["Wx"], a["Wh"], a["b"], np.bool_(True)).return_sequences is True


def test_empty_batch_takes_an_empty_lengths_list():
    output, h_n = RNN(D, H)(np.ones((T, 0, D)), lengths=[])
    assert output.shape == (T, 0, H)
    assert h_n.shape == (1, 0, H)
