"""The portable cases: every configuration of the reference, as plain arrays and expected values.

Four kinds, each named after what it calls:

- ``step``: :func:`~reference_rnn.rnn_step_forward` and ``rnn_step_backward``, ``x (N, D)``;
- ``sequence``: :func:`~reference_rnn.rnn_forward` and ``rnn_backward``, batch-first ``(N, T, D)``;
- ``stateful``: one sequence fed as two blocks to a layer that keeps its state (DLFS2's
  ``TimeRNN(stateful=True)``): block 2 starts from block 1's last state, and its backward stops
  there (truncated BPTT);
- ``rnn``: :class:`~reference_rnn.RNN` in ``torch.nn.RNN``'s layout and parameter names: layers,
  directions, ``batch_first``, ``lengths``, no bias, unbatched input;
- the same four for the LSTM and the GRU, ``lstm-step`` ... ``lstm`` and ``gru-step`` ... ``gru``
  (:mod:`~reference_rnn.export.gated`).

The first three are tanh and relu each, from the checker's battery; the ``rnn`` cases are
:data:`RNN_CASES`. Every input is drawn in float64 and rounded once to the case's dtype; the
expected values are the reference's, computed in float64 from those stored inputs, then rounded
once to the case's dtype. So a float32 case asks for the float32 rounding of the exact answer to
its own float32 inputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from reference_rnn.checker.battery import KEYS, Case, battery, make_case
from reference_rnn.core.config import RNNConfig
from reference_rnn.core.functional import (
    rnn_backward,
    rnn_forward,
    rnn_step_backward,
    rnn_step_forward,
)
from reference_rnn.export.case import Nonlinearity, Portable, rounded
from reference_rnn.export.gated import GATED_KINDS, gated_cases
from reference_rnn.layers.rnn import RNN

__all__ = ["KINDS", "NONLINEARITIES", "RNN_CASES", "Portable", "portable_cases"]

KINDS = ("step", "sequence", "stateful", "rnn", *GATED_KINDS)
NONLINEARITIES: tuple[Nonlinearity, ...] = ("tanh", "relu")
#: The battery's cases whose first step is a ``step`` case.
STEP_SOURCES = ("sample", "one-step", "one-step-batch", "batch-h0")
#: ``rnn`` cases: name, ``RNNConfig`` options beyond the sizes, lengths (or None), unbatched.
RNN_CASES: tuple[tuple[str, dict[str, Any], tuple[int, ...] | None, bool], ...] = (
    ("rnn-l1", {}, None, False),
    ("rnn-l1-relu", {"nonlinearity": "relu"}, None, False),
    ("rnn-l1-batch-first", {"batch_first": True}, None, False),
    ("rnn-l1-no-bias", {"bias": False}, None, False),
    ("rnn-l1-bidirectional", {"bidirectional": True}, None, False),
    ("rnn-l1-lengths", {}, (5, 2, 4), False),
    ("rnn-l1-unbatched", {}, None, True),
    ("rnn-l2", {"num_layers": 2}, None, False),
    (
        "rnn-l2-bidirectional-batch-first-lengths",
        {"num_layers": 2, "bidirectional": True, "batch_first": True},
        (3, 5, 1),
        False,
    ),
    (
        "rnn-l2-bidirectional-no-bias-unbatched",
        {"num_layers": 2, "bidirectional": True, "bias": False},
        None,
        True,
    ),
    (
        "rnn-l3-bidirectional-relu-lengths",
        {"num_layers": 3, "bidirectional": True, "nonlinearity": "relu"},
        (4, 5, 2),
        False,
    ),
)
#: The sizes of every ``rnn`` case: batch, steps, input features, hidden units.
RNN_SIZES = {"N": 3, "T": 5, "D": 3, "H": 4}
#: The layout of the functional kinds' arrays (``rnn`` cases state theirs from their config).
LAYOUTS = {
    "step": {
        **dict.fromkeys(("x", "dx"), "(N, D)"),
        **dict.fromkeys(("h0", "dh", "h", "dh0"), "(N, H)"),
    },
    "sequence": {
        **dict.fromkeys(("x", "dx"), "(N, T, D)"),
        **dict.fromkeys(("dh", "h"), "(N, T, H)"),
        "h0": "(N, H)",
        "dh0": "(N, H)",
    },
    "stateful": {
        "x1": "(N, T1, D)",
        "x2": "(N, T2, D)",
        "h0": "(N, H)",
        "dh": "(N, T2, H)",
        "h1": "(N, T1, H)",
        "h": "(N, T2, H)",
        "dx": "(N, T2, D)",
        "dh0": "(N, H)",
    },
}
for _layout in LAYOUTS.values():
    _layout |= {"Wx": "(D, H)", "Wh": "(H, H)", "b": "(H,)", "dWx": "(D, H)", "dWh": "(H, H)"}
    _layout |= {"db": "(H,)"}


def portable_cases(dtype: str, seed: int = 0) -> list[Portable]:
    """Every case in ``dtype`` (``"float64"`` or ``"float32"``), in the order of :data:`KINDS`."""
    cases = battery(dtype, seed=seed)
    step_cases = [case.first_step() for case in cases if case.name in STEP_SOURCES]
    two_blocks = make_case("stateful", 2, 8, 3, 5, dtype=dtype, seed=seed + 20)
    portable = []
    for nonlinearity in NONLINEARITIES:
        portable += [_step(case, nonlinearity) for case in step_cases]
    for nonlinearity in NONLINEARITIES:
        portable += [_sequence(case, nonlinearity) for case in cases]
    portable += [_stateful(two_blocks, nonlinearity, split=3) for nonlinearity in NONLINEARITIES]
    portable += [_rnn(dtype, seed, i, *spec) for i, spec in enumerate(RNN_CASES)]
    return portable + gated_cases(dtype, seed)


def _core_inputs(case: Case) -> dict[str, NDArray[Any]]:
    return {"x": case.x, "h0": case.h0, "Wx": case.Wx, "Wh": case.Wh, "b": case.b, "dh": case.dh}


def _step(case: Case, nonlinearity: Nonlinearity) -> Portable:
    """The battery case's first step, through the step functions: x (N, D), dh (N, H)."""
    a = case.inputs()
    h, cache = rnn_step_forward(a.x[:, 0], a.h0, a.Wx, a.Wh, a.b, nonlinearity=nonlinearity)
    grads = rnn_step_backward(a.dh[:, 0], cache)
    inputs = _core_inputs(case) | {"x": case.x[:, 0], "dh": case.dh[:, 0]}
    N, _, D, H = case.shape
    return Portable(
        name=f"step-{nonlinearity}-{case.name}",
        kind="step",
        # its own sizes: the sequence case's description would say its T
        about=f"one step (N={N}, D={D}, H={H}): the first of sequence-{nonlinearity}-{case.name}",
        dtype=case.dtype,
        nonlinearity=nonlinearity,
        inputs=inputs,
        expected=rounded(dict(zip(KEYS, (h, *grads), strict=True)), case.dtype),
        layouts=LAYOUTS["step"],
        sizes={"N": N, "D": D, "H": H},
    )


def _sequence(case: Case, nonlinearity: Nonlinearity) -> Portable:
    """The battery case through the sequence functions."""
    a = case.inputs()
    h, cache = rnn_forward(a.x, a.h0, a.Wx, a.Wh, a.b, nonlinearity=nonlinearity)
    grads = rnn_backward(a.dh, cache)
    N, T, D, H = case.shape
    return Portable(
        name=f"sequence-{nonlinearity}-{case.name}",
        kind="sequence",
        about=case.about,
        dtype=case.dtype,
        nonlinearity=nonlinearity,
        inputs=_core_inputs(case),
        expected=rounded(dict(zip(KEYS, (h, *grads), strict=True)), case.dtype),
        layouts=LAYOUTS["sequence"],
        sizes={"N": N, "T": T, "D": D, "H": H},
    )


def _stateful(case: Case, nonlinearity: Nonlinearity, split: int) -> Portable:
    """Block 1 ``x[:, :split]`` from h0, then block 2 from its last state; block 2's gradients."""
    a = case.inputs()
    h1, _ = rnn_forward(a.x[:, :split], a.h0, a.Wx, a.Wh, a.b, nonlinearity=nonlinearity)
    h, cache = rnn_forward(a.x[:, split:], h1[:, -1], a.Wx, a.Wh, a.b, nonlinearity=nonlinearity)
    grads = rnn_backward(a.dh[:, split:], cache)
    inputs = _core_inputs(case) | {"dh": case.dh[:, split:]}
    inputs = {"x1": case.x[:, :split], "x2": case.x[:, split:]} | inputs
    del inputs["x"]
    N, T, D, H = case.shape
    return Portable(
        name=f"stateful-{nonlinearity}",
        kind="stateful",
        about=f"N={N}, T={T} fed as two blocks of {split} and {T - split} steps, h0 random",
        dtype=case.dtype,
        nonlinearity=nonlinearity,
        inputs=inputs,
        expected=rounded({"h1": h1, "h": h, **dict(zip(KEYS[1:], grads, strict=True))}, case.dtype),
        layouts=LAYOUTS["stateful"],
        sizes={"N": N, "T1": split, "T2": T - split, "D": D, "H": H},
    )


def _rnn(
    dtype: str,
    seed: int,
    index: int,
    name: str,
    options: dict[str, Any],
    lengths: tuple[int, ...] | None,
    unbatched: bool,
) -> Portable:
    """An ``RNN`` case: torch's layout and parameter names, from its own random generator."""
    N, T, D, H = RNN_SIZES.values()
    config = RNNConfig(D, H, **options)
    L, K = config.num_layers, config.num_directions
    rng = np.random.default_rng([seed, index])
    k = 1 / np.sqrt(H)
    layout = _rnn_layouts(config, unbatched)
    shapes = _shapes(layout, {"N": N, "T": T, "D": D, "H": H, "L * K": L * K, "K * H": K * H})
    drawn = {
        "input": rng.standard_normal(shapes["input"]),
        "h_0": rng.uniform(-1, 1, shapes["h_0"]),
    }
    drawn |= {p: rng.uniform(-k, k, shape) for p, shape in config.param_shapes().items()}
    drawn |= {g: rng.standard_normal(shapes[g]) for g in ("grad_output", "grad_h_n")}
    inputs: dict[str, NDArray[Any]] = {key: value.astype(dtype) for key, value in drawn.items()}
    if lengths is not None:
        inputs["lengths"] = np.array(lengths, dtype=np.int64)
    wide = {key: value.astype(np.float64) for key, value in inputs.items() if key != "lengths"}
    rnn = RNN(D, H, **options).eval()
    rnn.load_state_dict({p: wide[p] for p in config.param_shapes()})
    output, h_n = rnn(wide["input"], wide["h_0"], lengths)
    grad_input, grad_h_0 = rnn.backward(wide["grad_output"], wide["grad_h_n"])
    values = {"output": output, "h_n": h_n, "grad_input": grad_input, "grad_h_0": grad_h_0}
    values |= {f"grad_{p}": g for p, g in rnn.grads.items()}
    about = config.describe() + ", lengths" * (lengths is not None) + ", unbatched" * unbatched
    return Portable(
        name=name,
        kind="rnn",
        about=f"torch.nn.RNN({D}, {H}): {about}",
        dtype=dtype,
        nonlinearity=config.nonlinearity,
        inputs=inputs,
        expected=rounded(values, dtype),
        layouts={key: layout[key] for key in (*inputs, *values)},
        sizes=({} if unbatched else {"N": N}) | {"T": T, "D": D, "H": H, "L": L, "K": K},
        config=config.options() | {"unbatched": unbatched},
    )


def _rnn_layouts(config: RNNConfig, unbatched: bool) -> dict[str, str]:
    """Every array's layout in the ``RNN``'s own terms: time-major unless batch_first."""
    if unbatched:
        sequence, state = "(T, {})", "(L * K, H)"
    else:
        sequence = "(N, T, {})" if config.batch_first else "(T, N, {})"
        state = "(L * K, N, H)"
    layout = {"input": sequence.format("D"), "h_0": state}
    for p, shape in config.param_shapes().items():
        if len(shape) == 1:
            layout[p] = "(H,)"
        elif "_hh_" in p:
            layout[p] = "(H, H)"
        else:  # the first layer reads the input; the next ones both directions' states
            layout[p] = "(H, D)" if p.startswith("weight_ih_l0") else "(H, K * H)"
    layout |= {"lengths": "(N,)", "grad_output": sequence.format("K * H"), "grad_h_n": state}
    expected = {"output": layout["grad_output"], "h_n": state, "grad_input": layout["input"]}
    expected |= {"grad_h_0": state} | {f"grad_{p}": layout[p] for p in config.param_shapes()}
    return layout | expected


def _shapes(layout: dict[str, str], sizes: dict[str, int]) -> dict[str, tuple[int, ...]]:
    """``"(T, N, K * H)"`` -> ``(5, 3, 8)``: the layouts read with the case's sizes."""
    return {
        key: tuple(sizes[dim.strip()] for dim in text.strip("()").split(",") if dim.strip())
        for key, text in layout.items()
    }
