"""The gated cells' portable cases: the LSTM's and the GRU's (both reset conventions).

Each cell has the Elman cell's four kinds, prefixed with its name: ``lstm-step``,
``lstm-sequence``, ``lstm-stateful`` (the core's functions, batch-first, gates in torch's order)
and ``lstm`` (the layer, in ``torch.nn.LSTM``'s layout and parameter names); ``gru-step``,
``gru-sequence``, ``gru-stateful`` and ``gru`` likewise, each in both conventions (``reset_after``
in the case's name and, for ``gru``, in its config). The arrays are drawn from the case's own
generator in float64 and rounded once to the case's dtype; the expected values are the reference's
in float64 from those stored inputs, rounded once, as for the Elman cell (see
:mod:`~reference_rnn.export.portable`). The equations are :data:`EQUATIONS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from reference_rnn.core.config import RNNConfig
from reference_rnn.core.functional import (
    gru_backward,
    gru_forward,
    gru_step_backward,
    gru_step_forward,
    lstm_backward,
    lstm_forward,
    lstm_step_backward,
    lstm_step_forward,
)
from reference_rnn.core.validation import FloatArray
from reference_rnn.export.case import Portable, rounded
from reference_rnn.layers.gru import GRU
from reference_rnn.layers.lstm_layer import LSTM

__all__ = ["EQUATIONS", "GATED_KINDS", "LAYER_CASES", "gated_cases"]

#: The kinds, per cell: its functions' three, then its layer's.
GATED_KINDS = tuple(
    f"{cell}{kind}" for cell in ("lstm", "gru") for kind in ("-step", "-sequence", "-stateful", "")
)
#: The equations of each cell's functional kinds (batch-first, ``x_t @ Wx``, gates in torch's
#: order as blocks of H columns).
EQUATIONS = {
    "lstm": "a = x_t @ Wx + h_{t-1} @ Wh + b, gates i, f, g, o as a's blocks of H columns; "
    "i, f, o = sigmoid(a_i), sigmoid(a_f), sigmoid(a_o); g = tanh(a_g); "
    "c_t = f * c_{t-1} + i * g; h_t = o * tanh(c_t)",
    "gru": "gates r, z, n as blocks of H columns; r = sigmoid(x_t @ Wx_r + b_r + h_{t-1} @ Wh_r "
    "+ bh_r), z likewise; reset_after=True (torch): n = tanh(x_t @ Wx_n + b_n + r * (h_{t-1} @ "
    "Wh_n + bh_n)); reset_after=False (ONNX's default): n = tanh(x_t @ Wx_n + b_n + (r * "
    "h_{t-1}) @ Wh_n + bh_n); h_t = (1 - z) * n + z * h_{t-1}",
}
#: The functional kinds' sizes: batch, steps, input features, hidden units; the stateful
#: sequence is fed as blocks of SPLIT and T - SPLIT steps.
SIZES = {"N": 3, "T": 6, "D": 4, "H": 5}
SPLIT = 2
#: The layer cases: name, the cell's options beyond the sizes (``RNNConfig``'s), lengths (or
#: None), unbatched. The GRU's run in both conventions.
LAYER_CASES: dict[str, tuple[tuple[str, dict[str, Any], tuple[int, ...] | None, bool], ...]] = {
    "lstm": (
        ("lstm-l1", {}, None, False),
        ("lstm-l1-no-bias-batch-first", {"bias": False, "batch_first": True}, None, False),
        ("lstm-l1-bidirectional-lengths", {"bidirectional": True}, (5, 2, 4), False),
        ("lstm-l1-proj-unbatched", {"proj_size": 2}, None, True),
        (
            "lstm-l2-bidirectional-proj-lengths",
            {"num_layers": 2, "bidirectional": True, "proj_size": 3},
            (3, 5, 1),
            False,
        ),
        ("lstm-l3", {"num_layers": 3}, None, False),
    ),
    "gru": (
        ("gru-l1", {}, None, False),
        ("gru-l1-no-bias-batch-first", {"bias": False, "batch_first": True}, None, False),
        ("gru-l1-unbatched", {}, None, True),
        (
            "gru-l2-bidirectional-lengths",
            {"num_layers": 2, "bidirectional": True},
            (3, 5, 1),
            False,
        ),
        ("gru-l3", {"num_layers": 3}, None, False),
    ),
}
#: The layer cases' sizes.
LAYER_SIZES = {"N": 3, "T": 5, "D": 3, "H": 4}


def gated_cases(dtype: str, seed: int) -> list[Portable]:
    """Every gated case in ``dtype`` (``Portable``), in the order of :data:`GATED_KINDS`."""
    cases = [_lstm_functional(kind, dtype, seed) for kind in _FUNCTIONAL]
    cases += [_layer("lstm", dtype, seed, i, *spec) for i, spec in enumerate(LAYER_CASES["lstm"])]
    for kind in _FUNCTIONAL:
        cases += [_gru_functional(kind, dtype, seed, reset_after) for reset_after in (True, False)]
    cases += [
        _layer("gru", dtype, seed, i, *spec, reset_after=reset_after)
        for i, spec in enumerate(LAYER_CASES["gru"])
        for reset_after in (True, False)
    ]
    return cases


def _draw(
    seed: int, index: int, dtype: str, layouts: dict[str, str], sizes: dict[str, int]
) -> tuple[dict[str, NDArray[Any]], dict[str, FloatArray]]:
    """The stored inputs in ``dtype`` and the same values in float64, drawn in the order of
    ``layouts`` (each read with ``sizes``): weights and biases (names starting with W or b)
    U(-1/sqrt(H), 1/sqrt(H)), initial states (h0, c0) U(-1, 1), the rest standard normal."""
    rng = np.random.default_rng([seed, 1000 + index])
    k = 1 / np.sqrt(sizes["H"])
    sizes = sizes | {"4H": 4 * sizes["H"], "3H": 3 * sizes["H"]}
    inputs = {}
    for name, layout in layouts.items():
        shape = tuple(sizes[dim.strip()] for dim in layout.strip("()").split(",") if dim.strip())
        if name[0] in "Wb":
            value = rng.uniform(-k, k, shape)
        elif name in ("h0", "c0"):
            value = rng.uniform(-1, 1, shape)
        else:
            value = rng.standard_normal(shape)
        inputs[name] = value.astype(dtype)
    return inputs, {name: value.astype(np.float64) for name, value in inputs.items()}


def _functional_layouts(cell: str, kind: str) -> dict[str, str]:
    """The inputs' layouts of a cell's functional kind (``step``, ``sequence``, ``stateful``)."""
    G = "4H" if cell == "lstm" else "3H"
    xs = {"step": {"x": "(N, D)"}, "sequence": {"x": "(N, T, D)"}}.get(
        kind, {"x1": "(N, T1, D)", "x2": "(N, T2, D)"}
    )
    layouts = xs | {"h0": "(N, H)"} | ({"c0": "(N, H)"} if cell == "lstm" else {})
    layouts |= {"Wx": f"(D, {G})", "Wh": f"(H, {G})", "b": f"({G},)"}
    layouts |= {"bh": f"({G},)"} if cell == "gru" else {}
    layouts["dh"] = {"step": "(N, H)", "sequence": "(N, T, H)"}.get(kind, "(N, T2, H)")
    return layouts | ({"dc": "(N, H)"} if cell == "lstm" else {})


def _sizes(kind: str) -> dict[str, int]:
    N, T, D, H = SIZES.values()
    sizes = {"N": N, "D": D, "H": H} | ({} if kind == "step" else {"T": T})
    return sizes | ({"T1": SPLIT, "T2": T - SPLIT} if kind == "stateful" else {})


_ABOUT = {
    "step": "one step (N={N}, D={D}, H={H})",
    "sequence": "N={N}, T={T}, D={D}, H={H}, random initial states",
    "stateful": "N={N}, T={T} fed as two blocks of {T1} and {T2} steps: block 2 starts from "
    "block 1's last states, its backward stops there",
}


def _lstm_functional(kind: str, dtype: str, seed: int) -> Portable:
    """``lstm_step_*`` (``dc`` is dL/dnext_c), ``lstm_forward``/``lstm_backward`` (``dc`` is
    dL/dcT), or two blocks of ``lstm_forward`` and block 2's backward."""
    layouts = _functional_layouts("lstm", kind)
    sizes = _sizes(kind)
    inputs, a = _draw(seed, _FUNCTIONAL.index(kind), dtype, layouts, sizes)
    weights = (a["Wx"], a["Wh"], a["b"])
    values: dict[str, Any] = {}
    if kind == "step":
        h, c, cache = lstm_step_forward(a["x"], a["h0"], a["c0"], *weights)
        grads = lstm_step_backward(a["dh"], a["dc"], cache)
    else:
        x, h0, c0 = a.get("x"), a["h0"], a["c0"]
        if kind == "stateful":
            h1, c1, _ = lstm_forward(a["x1"], h0, *weights, c0)
            values = {"h1": h1, "c1": c1}
            x, h0, c0 = a["x2"], h1[:, -1], c1
        h, c, cache = lstm_forward(x, h0, *weights, c0)
        grads = lstm_backward(a["dh"], a["dc"], cache)
    values |= {"h": h, "c": c} | dict(zip(_LSTM_GRADIENTS, grads, strict=True))
    expected = {"h1": "(N, T1, H)", "c1": "(N, H)"} if kind == "stateful" else {}
    expected |= {"h": layouts["dh"], "c": "(N, H)", "dx": layouts.get("x", "(N, T2, D)")}
    expected |= {"dh0": "(N, H)", "dc0": "(N, H)", "dWx": "(D, 4H)", "dWh": "(H, 4H)"}
    return Portable(
        name=f"lstm-{kind}",
        kind=f"lstm-{kind}",
        about=_ABOUT[kind].format(**sizes | {"T": SIZES["T"]}),
        dtype=dtype,
        nonlinearity="tanh",
        inputs=inputs,
        expected=rounded(values, dtype),
        layouts=layouts | expected | {"db": "(4H,)"},
        sizes=sizes,
    )


def _gru_functional(kind: str, dtype: str, seed: int, reset_after: bool) -> Portable:
    """``gru_step_*``, ``gru_forward``/``gru_backward``, or two blocks of ``gru_forward`` and
    block 2's backward, in the convention ``reset_after``."""
    layouts = _functional_layouts("gru", kind)
    sizes = _sizes(kind)
    index = 10 + 2 * _FUNCTIONAL.index(kind) + reset_after
    inputs, a = _draw(seed, index, dtype, layouts, sizes)
    weights = (a["Wx"], a["Wh"], a["b"], a["bh"])
    values: dict[str, Any] = {}
    if kind == "step":
        h, cache = gru_step_forward(a["x"], a["h0"], *weights, reset_after=reset_after)
        grads = gru_step_backward(a["dh"], cache)
    else:
        x, h0 = a.get("x"), a["h0"]
        if kind == "stateful":
            h1, _ = gru_forward(a["x1"], h0, *weights, reset_after=reset_after)
            values = {"h1": h1}
            x, h0 = a["x2"], h1[:, -1]
        h, cache = gru_forward(x, h0, *weights, reset_after=reset_after)
        grads = gru_backward(a["dh"], cache)
    values |= {"h": h} | dict(zip(_GRU_GRADIENTS, grads, strict=True))
    expected = {"h1": "(N, T1, H)"} if kind == "stateful" else {}
    expected |= {"h": layouts["dh"], "dx": layouts.get("x", "(N, T2, D)"), "dh0": "(N, H)"}
    expected |= {"dWx": "(D, 3H)", "dWh": "(H, 3H)", "db": "(3H,)", "dbh": "(3H,)"}
    convention = "reset-after" if reset_after else "reset-before"
    return Portable(
        name=f"gru-{kind}-{convention}",
        kind=f"gru-{kind}",
        about=f"reset_after={reset_after}, " + _ABOUT[kind].format(**sizes | {"T": SIZES["T"]}),
        dtype=dtype,
        nonlinearity="tanh",
        inputs=inputs,
        expected=rounded(values, dtype),
        layouts=layouts | expected,
        sizes=sizes,
        config={"reset_after": reset_after},
    )


_FUNCTIONAL = ("step", "sequence", "stateful")
_LSTM_GRADIENTS = ("dx", "dh0", "dc0", "dWx", "dWh", "db")
_GRU_GRADIENTS = ("dx", "dh0", "dWx", "dWh", "db", "dbh")


def _layer(
    cell: str,
    dtype: str,
    seed: int,
    index: int,
    name: str,
    options: dict[str, Any],
    lengths: tuple[int, ...] | None,
    unbatched: bool,
    *,
    reset_after: bool = True,
) -> Portable:
    """A layer case: torch's layout and parameter names, from its own random generator."""
    N, T, D, H = LAYER_SIZES.values()
    gru = cell == "gru"
    convention = {"reset_after": reset_after} if gru else {}
    config = RNNConfig(D, H, cell="GRU" if gru else "LSTM", **options | convention)
    L, K, P = config.num_layers, config.num_directions, config.output_size
    rng = np.random.default_rng([seed, 2000 + 2 * index + (gru and not reset_after)])
    k = 1 / np.sqrt(H)
    x_shape: tuple[int, ...]
    batch: tuple[int, ...]
    if unbatched:
        x_shape, batch = (T, D), (L * K,)
    else:
        x_shape, batch = ((N, T, D) if config.batch_first else (T, N, D)), (L * K, N)
    drawn = {"input": rng.standard_normal(x_shape), "h_0": rng.uniform(-1, 1, (*batch, P))}
    if not gru:
        drawn["c_0"] = rng.uniform(-1, 1, (*batch, H))
    drawn |= {p: rng.uniform(-k, k, shape) for p, shape in config.param_shapes().items()}
    drawn["grad_output"] = rng.standard_normal((*x_shape[:-1], K * P))
    drawn["grad_h_n"] = rng.standard_normal((*batch, P))
    if not gru:
        drawn["grad_c_n"] = rng.standard_normal((*batch, H))
    inputs: dict[str, NDArray[Any]] = {key: value.astype(dtype) for key, value in drawn.items()}
    if lengths is not None:
        inputs["lengths"] = np.array(lengths, dtype=np.int64)
    wide = {key: value.astype(np.float64) for key, value in inputs.items() if key != "lengths"}
    values = _run_layer(config, wide, lengths)
    layouts = _layer_layouts(config, unbatched)
    about = config.describe() + ", lengths" * (lengths is not None) + ", unbatched" * unbatched
    # reset_after=False: this package's GRU alone
    layer_name = "reference_rnn.GRU" if gru and not reset_after else f"torch.nn.{cell.upper()}"
    return Portable(
        name=name + ("-reset-after" if reset_after else "-reset-before") * gru,
        kind=cell,
        about=f"{layer_name}({D}, {H}): {about}",
        dtype=dtype,
        nonlinearity="tanh",
        inputs=inputs,
        expected=rounded(values, dtype),
        layouts={key: layouts[key] for key in (*inputs, *values)},
        sizes=({} if unbatched else {"N": N})
        | {"T": T, "D": D, "H": H, "L": L, "K": K}
        | ({"P": P} if config.proj_size else {}),
        # reset_after said also where it is the default: a reader need not know torch's
        config=config.options() | convention | {"unbatched": unbatched},
    )


def _run_layer(
    config: RNNConfig, wide: Mapping[str, FloatArray], lengths: tuple[int, ...] | None
) -> dict[str, FloatArray]:
    """The layer's outputs and gradients on the float64 inputs ``wide``, named as exported."""
    params = {p: wide[p] for p in config.param_shapes()}
    if config.cell == "GRU":
        gru = GRU(**config.layer_options()).eval()
        gru.load_state_dict(params)
        output, h_n = gru(wide["input"], wide["h_0"], lengths)
        grad_input, grad_h_0 = gru.backward(wide["grad_output"], wide["grad_h_n"])
        values = {"output": output, "h_n": h_n, "grad_input": grad_input, "grad_h_0": grad_h_0}
        return values | {f"grad_{p}": g for p, g in gru.grads.items()}
    lstm = LSTM(**config.layer_options()).eval()
    lstm.load_state_dict(params)
    output, (h_n, c_n) = lstm(wide["input"], (wide["h_0"], wide["c_0"]), lengths)
    upstream = (wide["grad_h_n"], wide["grad_c_n"])
    grad_input, (grad_h_0, grad_c_0) = lstm.backward(wide["grad_output"], upstream)
    values = {"output": output, "h_n": h_n, "c_n": c_n, "grad_input": grad_input}
    values |= {"grad_h_0": grad_h_0, "grad_c_0": grad_c_0}
    return values | {f"grad_{p}": g for p, g in lstm.grads.items()}


def _layer_layouts(config: RNNConfig, unbatched: bool) -> dict[str, str]:
    """Every array's layout in the layer's own terms: time-major unless batch_first."""
    P = "P" if config.proj_size else "H"
    G = "4H" if config.cell == "LSTM" else "3H"
    if unbatched:
        sequence, state, cell_state = "(T, {})", f"(L * K, {P})", "(L * K, H)"
    else:
        sequence = "(N, T, {})" if config.batch_first else "(T, N, {})"
        state, cell_state = f"(L * K, N, {P})", "(L * K, N, H)"
    layout = {"input": sequence.format("D"), "h_0": state, "c_0": cell_state}
    for p, shape in config.param_shapes().items():
        if p.startswith("weight_hr"):
            layout[p] = "(P, H)"
        elif len(shape) == 1:
            layout[p] = f"({G},)"
        elif "_hh_" in p:
            layout[p] = f"({G}, {P})"
        else:  # the first layer reads the input; the next ones both directions' states
            layout[p] = f"({G}, D)" if p.startswith("weight_ih_l0") else f"({G}, K * {P})"
    output = sequence.format(f"K * {P}")
    layout |= {"lengths": "(N,)", "grad_output": output, "grad_h_n": state}
    layout |= {"grad_c_n": cell_state, "output": output, "h_n": state, "c_n": cell_state}
    layout |= {"grad_input": layout["input"], "grad_h_0": state, "grad_c_0": cell_state}
    return layout | {f"grad_{p}": layout[p] for p in config.param_shapes()}
