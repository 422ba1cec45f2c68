"""What an export says about itself: ``index.json`` (format version 2), ``index.txt``, ``README.md``.

``index.json`` is the complete description: the package version and seed, the rules (error
measure, tolerance, float32), each kind's equations and arrays, and every case file with its
SHA-256, sizes, configuration and each array's shape and layout. ``index.txt`` lists the same
files one a line for languages without a JSON parser. Nothing here depends on the clock or on
NumPy's version, so that two exports of the same version and seed are byte-identical.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from reference_rnn.core.measure import TOLERANCE
from reference_rnn.export.gated import EQUATIONS
from reference_rnn.export.npz import DESCR
from reference_rnn.export.portable import KINDS, Portable

__all__ = ["FORMAT", "FORMAT_VERSION", "KIND_TEXT", "RULES", "index_json", "index_txt"]

FORMAT = "reference_rnn portable cases"  # index.json's "format": what marks an export's index
FORMAT_VERSION = 2
_CORE = "a_t = x_t @ Wx + h_{t-1} @ Wh + b; h_t = tanh(a_t) or relu(a_t); h_{-1} = h0"
_CORE_ARRAYS = {
    "Wx": "input weights, x_t @ Wx",
    "Wh": "recurrent weights, h_{t-1} @ Wh (not transposed)",
    "b": "bias",
    "dWx": "expected dL/dWx",
    "dWh": "expected dL/dWh",
    "db": "expected dL/db (summed over the batch and the steps)",
}
#: Each kind: what it calls, its equations, and the meaning of its arrays.
KIND_TEXT: dict[str, dict[str, Any]] = {
    "step": {
        "calls": "rnn_step_forward(x, prev_h, Wx, Wh, b), rnn_step_backward(dnext_h, cache)",
        "equations": "h = tanh(x @ Wx + h0 @ Wh + b) (or relu); L = sum(h * dh)",
        "arrays": _CORE_ARRAYS
        | {
            "x": "input at the one step",
            "h0": "the previous state (prev_h)",
            "dh": "dL/dh, the upstream gradient (dnext_h)",
            "h": "expected next state",
            "dx": "expected dL/dx",
            "dh0": "expected dL/dh0 (dprev_h)",
        },
    },
    "sequence": {
        "calls": "rnn_forward(x, h0, Wx, Wh, b), rnn_backward(dh, cache)",
        "equations": f"{_CORE}, for t = 0 .. T-1; L = sum(h * dh)",
        "arrays": _CORE_ARRAYS
        | {
            "x": "the sequences, batch-first",
            "h0": "the initial state",
            "dh": "dL/dh_t from above at every step (arbitrary, so every path is tested)",
            "h": "expected states h_0 .. h_{T-1} after each step",
            "dx": "expected dL/dx",
            "dh0": "expected dL/dh0",
        },
    },
    "stateful": {
        "calls": "a layer that keeps its state: forward(x1) from h0, then forward(x2), "
        "backward(dh) (DLFS2's TimeRNN(stateful=True), after set_state(h0))",
        "equations": f"{_CORE}; block 2 starts from block 1's last state; L = sum(h * dh) "
        "over block 2 only, and no gradient flows into block 1 (truncated BPTT)",
        "arrays": _CORE_ARRAYS
        | {
            "x1": "block 1's inputs",
            "x2": "block 2's inputs",
            "h0": "the state before block 1",
            "dh": "dL/dh_t at every step of block 2",
            "h1": "expected states of block 1",
            "h": "expected states of block 2",
            "dx": "expected dL/dx2",
            "dh0": "expected dL/d(the state block 2 started from): DLFS2's .dh",
            "dWx": "expected dL/dWx of block 2",
            "dWh": "expected dL/dWh of block 2",
            "db": "expected dL/db of block 2",
        },
    },
    "rnn": {
        "calls": "torch.nn.RNN(D, H, **config)(input, h_0) with lengths as "
        "pack_padded_sequence(enforce_sorted=False) then pad_packed_sequence(total_length=T)",
        "equations": "per layer l and direction: h_t = tanh(x_t @ weight_ih.T + bias_ih + "
        "h_{t-1} @ weight_hh.T + bias_hh) (or relu); the layer above reads [forward, reverse] "
        "on the last axis; the reverse direction runs from each sequence's last valid step; "
        "L = sum(output * grad_output) + sum(h_n * grad_h_n)",
        "arrays": {
            "input": "time-major (T, N, D) unless config.batch_first; (T, D) when unbatched",
            "h_0": "initial state of every layer and direction, index l * K + k "
            "(k = 1 for the reverse direction)",
            "weight_ih_l{l}[_reverse]": "torch's name and shape, (H, D) or (H, K * H)",
            "weight_hh_l{l}[_reverse]": "(H, H)",
            "bias_ih_l{l}[_reverse], bias_hh_l{l}[_reverse]": "(H,), only with bias",
            "lengths": "int64 (N,), each sequence's valid length, any order; only in cases "
            "with lengths",
            "grad_output": "dL/d output",
            "grad_h_n": "dL/d h_n",
            "output": "expected; [forward, reverse] on the last axis; zero past a length",
            "h_n": "expected last (valid) state of every layer and direction, as h_0",
            "grad_input": "expected dL/d input",
            "grad_h_0": "expected dL/d h_0",
            "grad_<parameter>": "expected dL/d parameter; bias_ih and bias_hh get the same",
        },
    },
}
#: The gated cells' functional kinds: the Elman kinds' arrays, with the cell's gates and states.
_GATED_ARRAYS = {
    "lstm": {
        "Wx": "input weights, x_t @ Wx, the gates i, f, g, o as blocks of H columns",
        "Wh": "recurrent weights, h_{t-1} @ Wh (not transposed), gates as Wx's",
        "b": "bias (one: torch's bias_ih + bias_hh), gates as Wx's",
        "h0": "the initial hidden state",
        "c0": "the initial cell state",
        "dh": "dL/dh_t from above (step: dL/dnext_h)",
        "dc": "dL/dc of the final cell state (step: dL/dnext_c)",
        "h": "expected hidden states",
        "c": "expected final cell state",
        "dx": "expected dL/dx",
        "dh0": "expected dL/dh0",
        "dc0": "expected dL/dc0",
        "dWx": "expected dL/dWx",
        "dWh": "expected dL/dWh",
        "db": "expected dL/db",
    },
    "gru": {
        "Wx": "input weights, x_t @ Wx, the gates r, z, n as blocks of H columns",
        "Wh": "recurrent weights, h_{t-1} @ Wh (not transposed), gates as Wx's",
        "b": "input-side bias (torch's bias_ih)",
        "bh": "recurrent-side bias (torch's bias_hh): inside r * (...) for n with reset_after",
        "h0": "the initial hidden state",
        "dh": "dL/dh_t from above (step: dL/dnext_h)",
        "h": "expected hidden states",
        "dx": "expected dL/dx",
        "dh0": "expected dL/dh0",
        "dWx": "expected dL/dWx",
        "dWh": "expected dL/dWh",
        "db": "expected dL/db",
        "dbh": "expected dL/dbh",
    },
}
_STATEFUL = {
    "x1": "block 1's inputs",
    "x2": "block 2's inputs",
    "h1": "expected states of block 1",
    "dx": "expected dL/dx2",
    "dh0": "expected dL/d(the state block 2 started from)",
}
for _cell, _calls in (
    (
        "lstm",
        (
            (
                "lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b), lstm_step_backward(dnext_h, "
                "dnext_c, cache)"
            ),
            "lstm_forward(x, h0, Wx, Wh, b, c0), lstm_backward(dh, dcT, cache)",
        ),
    ),
    (
        "gru",
        (
            (
                "gru_step_forward(x, prev_h, Wx, Wh, b, bh, reset_after=config.reset_after), "
                "gru_step_backward(dnext_h, cache)"
            ),
            (
                "gru_forward(x, h0, Wx, Wh, b, bh, "
                "reset_after=config.reset_after), gru_backward(dh, cache)"
            ),
        ),
    ),
):
    _loss = "L = sum(h * dh)" + " + sum(c * dc)" * (_cell == "lstm")
    KIND_TEXT[f"{_cell}-step"] = {
        "calls": _calls[0],
        "equations": f"one step of {EQUATIONS[_cell]}; {_loss}",
        "arrays": _GATED_ARRAYS[_cell],
    }
    KIND_TEXT[f"{_cell}-sequence"] = {
        "calls": _calls[1],
        "equations": f"{EQUATIONS[_cell]}, for t = 0 .. T-1, batch-first; {_loss}",
        "arrays": _GATED_ARRAYS[_cell],
    }
    KIND_TEXT[f"{_cell}-stateful"] = {
        "calls": f"a layer that keeps its state: {_calls[1]} on x1, then on x2 from block 1's "
        "last states; the backward of block 2 only",
        "equations": f"{EQUATIONS[_cell]}; block 2 starts from block 1's last states; {_loss} "
        "over block 2 only, and no gradient flows into block 1 (truncated BPTT)",
        "arrays": _GATED_ARRAYS[_cell]
        | _STATEFUL
        | (
            {
                "c1": "expected final cell state of block 1",
                "dc0": "expected dL/d(the cell state block 2 started from)",
            }
            if _cell == "lstm"
            else {}
        ),
    }
KIND_TEXT["lstm"] = {
    "calls": "torch.nn.LSTM(D, H, **config)(input, (h_0, c_0)), lengths as for rnn",
    "equations": "per layer and direction, torch's gate order i, f, g, o as blocks of H rows of "
    "weight_ih (4H, D_l), weight_hh (4H, P), bias_ih, bias_hh (4H,): a = x_t @ weight_ih.T + "
    "bias_ih + h_{t-1} @ weight_hh.T + bias_hh; c_t = f * c_{t-1} + i * g; h_t = o * tanh(c_t), "
    "then h_t @ weight_hr.T (P, H) with proj_size = P; L = sum(output * grad_output) + "
    "sum(h_n * grad_h_n) + sum(c_n * grad_c_n)",
    "arrays": KIND_TEXT["rnn"]["arrays"]
    | {
        "c_0": "initial cell state, indexed as h_0, (L * K, N, H)",
        "weight_hr_l{l}[_reverse]": "(P, H), only with config.proj_size = P: h is P wide",
        "grad_c_n": "dL/d c_n",
        "c_n": "expected last (valid) cell state of every layer and direction",
        "grad_c_0": "expected dL/d c_0",
    },
}
KIND_TEXT["gru"] = {
    "calls": "torch.nn.GRU(D, H, **config)(input, h_0) when config.reset_after is true (its "
    "default); reset_after=False has no torch module (ONNX GRU's linear_before_reset=0)",
    "equations": "per layer and direction, torch's gate order r, z, n as blocks of H rows of "
    "weight_ih (3H, D_l), weight_hh (3H, H), bias_ih, bias_hh (3H,); " + EQUATIONS["gru"] + "; "
    "L = sum(output * grad_output) + sum(h_n * grad_h_n)",
    "arrays": KIND_TEXT["rnn"]["arrays"],
}

RULES = {
    "loss": "the stored gradients are those of L = sum(h * dh) (rnn: sum(output * grad_output) "
    "+ sum(h_n * grad_h_n); each kind's equations say its own): the upstream gradients are "
    "inputs, so every gradient is tested",
    "error": "for every expected array e and your a: max|a - e| / max|e| (max|a - e| where e "
    "is all zero), computed in float64",
    "tolerance": "a case passes when the error of every expected array is at most its "
    f"tolerance: {TOLERANCE['float64']:g} for float64, {TOLERANCE['float32']:g} for float32",
    "float32": "inputs are drawn in float64 and rounded once to float32 (the stored values); "
    "the expected values are computed in float64 from those stored float32 inputs, then "
    "rounded once to float32. Compute in float32 (or better) and compare in float64",
    "storage": "each case is one .npz: a zip of <array>.npy (version 1.0 header), stored "
    "uncompressed, sizes in each local header, C order, little-endian, in the case's dtype "
    "(lengths int64); no data descriptors, no zip64",
}


def index_json(
    cases: Sequence[Portable], files: Mapping[str, bytes], *, version: str, seed: int
) -> bytes:
    """``index.json``: the rules, the kinds, and each case file with its SHA-256."""
    index = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "package": "reference_rnn",
        "version": version,
        "seed": seed,
        "dtypes": list(dict.fromkeys(case.dtype for case in cases)),
        **RULES,
        "kinds": {kind: KIND_TEXT[kind] for kind in KINDS},
        "cases": [_entry(case, files[case.file]) for case in cases],
    }
    return (json.dumps(index, indent=2) + "\n").encode("utf-8")


def _entry(case: Portable, data: bytes) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": case.name,
        "kind": case.kind,
        "about": case.about,
        "file": case.file,
        "sha256": hashlib.sha256(data).hexdigest(),
        "bytes": len(data),
        "dtype": case.dtype,
        "tolerance": TOLERANCE[case.dtype],
        "nonlinearity": case.nonlinearity,
        "sizes": case.sizes,
    }
    if case.config:
        entry["config"] = case.config
    entry["inputs"] = _arrays(case, case.inputs)
    entry["expected"] = _arrays(case, case.expected)
    return entry


def _arrays(case: Portable, arrays: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: {
            "shape": list(a.shape),
            "dtype": DESCR[str(a.dtype)],
            "layout": case.layouts[name],
        }
        for name, a in arrays.items()
    }


def index_txt(cases: Sequence[Portable]) -> bytes:
    """One case a line: file, kind, nonlinearity, dtype, tolerance (whitespace-separated)."""
    lines = [
        "# reference_rnn portable cases, format version 2: file kind nonlinearity dtype tolerance",
        *(f"{c.file} {c.kind} {c.nonlinearity} {c.dtype} {TOLERANCE[c.dtype]:g}" for c in cases),
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")
