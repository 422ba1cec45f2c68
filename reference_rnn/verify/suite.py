"""What the verification report checks: the parity cases, and the finite-difference cases.

The functional core and ``SimpleRNN`` (:class:`~reference_rnn.verify.cases.CoreCase`) and
``RNN``'s options (:class:`~reference_rnn.verify.cases.RNNCase`), each in float64 and float32,
are run against every installed oracle; a few of them in float64 against central differences.
The LSTM's and the GRU's options (both reset conventions) likewise (:data:`CELL_CASES`,
:data:`FD_CELL_CASES`), each against the oracles that compute it.
"""

from __future__ import annotations

from typing import Any

from reference_rnn.core.functional import Nonlinearity
from reference_rnn.core.validation import DTYPES
from reference_rnn.verify.cases import CoreCase, RNNCase

NONLINEARITIES: tuple[Nonlinearity, ...] = ("tanh", "relu")
# nonlinearity, h0 all zero, (N, T, D, H)
_SEQUENCES: list[tuple[Nonlinearity, bool, tuple[int, int, int, int]]] = [
    ("tanh", True, (1, 3, 2, 4)),
    ("tanh", False, (4, 7, 5, 9)),
    ("relu", True, (3, 5, 4, 6)),
    ("relu", False, (2, 11, 3, 8)),
]

CORE_CASES = [
    *(
        CoreCase(f"rnn_step_forward/backward {nl}", "step", nonlinearity=nl, dtype=dtype)
        for nl in NONLINEARITIES
        for dtype in DTYPES
    ),
    *(
        CoreCase(
            f"rnn_forward/backward {nl}, h0 {'zero' if zero_h0 else 'random'}",
            "sequence",
            nonlinearity=nl,
            dtype=dtype,
            zero_h0=zero_h0,
            N=N,
            T=T,
            D=D,
            H=H,
        )
        for nl, zero_h0, (N, T, D, H) in _SEQUENCES
        for dtype in DTYPES
    ),
    *(CoreCase("SimpleRNN final state", "simple", dtype=dtype) for dtype in DTYPES),
    *(
        CoreCase("SimpleRNN return_sequences=True", "simple_sequences", dtype=dtype)
        for dtype in DTYPES
    ),
]

_RNN_CONFIGS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("1 layer tanh", {}, {}),
    ("1 layer relu, batch_first", {"nonlinearity": "relu", "batch_first": True}, {}),
    ("1 layer, hx=None", {}, {"hx": False}),
    ("2 layers, no bias", {"num_layers": 2, "bias": False}, {}),
    ("3 layers relu", {"num_layers": 3, "nonlinearity": "relu"}, {}),
    ("bidirectional", {"bidirectional": True}, {}),
    (
        "2 layers bidirectional, batch_first",
        {"num_layers": 2, "bidirectional": True, "batch_first": True},
        {},
    ),
    (
        "unbatched, 2 layers bidirectional",
        {"num_layers": 2, "bidirectional": True},
        {"unbatched": True},
    ),
    ("lengths (unsorted)", {}, {"N": 4, "T": 6, "lengths": (3, 6, 1, 4)}),
    (
        "lengths, 2 layers bidirectional relu",
        {"num_layers": 2, "bidirectional": True, "nonlinearity": "relu"},
        {"N": 4, "T": 6, "lengths": (2, 6, 5, 1)},
    ),
    (
        "dropout 0.4 in training, 3 layers bidirectional",
        {"num_layers": 3, "dropout": 0.4, "bidirectional": True},
        {"training": True},
    ),
    ("dropout 0.4 in eval, 2 layers", {"num_layers": 2, "dropout": 0.4}, {}),
]

RNN_CASES = [
    RNNCase(
        f"RNN {label}", {"input_size": 4, "hidden_size": 5} | options, dtype=dtype, seed=i, **shape
    )
    for i, (label, options, shape) in enumerate(_RNN_CONFIGS)
    for dtype in DTYPES
]

FD_CORE_CASES = [
    CoreCase("rnn_step_forward/backward tanh", "step"),
    CoreCase("rnn_forward/backward tanh", "sequence"),
    CoreCase("rnn_forward/backward relu", "sequence", nonlinearity="relu", seed=1),
    CoreCase("SimpleRNN final state", "simple"),
]
FD_RNN_CASES = [
    RNNCase(
        "RNN 2 layers bidirectional, lengths",
        {"input_size": 3, "hidden_size": 4, "num_layers": 2, "bidirectional": True},
        lengths=(5, 2, 4),
    ),
    RNNCase(
        "RNN unbatched relu, no bias, 2 layers",
        {"input_size": 3, "hidden_size": 4, "num_layers": 2, "nonlinearity": "relu", "bias": False},
        unbatched=True,
    ),
]


PARITY_CASES: list[RNNCase | CoreCase] = [*CORE_CASES, *RNN_CASES]

#: The GRU's cases, each in both conventions (reset_after True and False) and both dtypes: each
#: convention is run against the oracles that compute it (torch: reset_after=True only).
_GRU_CONFIGS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("1 layer", {}, {}),
    ("1 layer, batch_first, hx=None", {"batch_first": True}, {"hx": False}),
    ("2 layers, no bias", {"num_layers": 2, "bias": False}, {}),
    ("bidirectional", {"bidirectional": True}, {}),
    (
        "unbatched, 2 layers bidirectional",
        {"num_layers": 2, "bidirectional": True},
        {"unbatched": True},
    ),
    (
        "lengths, 2 layers bidirectional",
        {"num_layers": 2, "bidirectional": True},
        {"N": 4, "T": 6, "lengths": (2, 6, 5, 1)},
    ),
    (
        "dropout 0.4 in training, 3 layers bidirectional",
        {"num_layers": 3, "dropout": 0.4, "bidirectional": True},
        {"training": True},
    ),
]

GRU_CASES = [
    RNNCase(
        f"GRU {label}, reset_after={reset_after}",
        {"input_size": 4, "hidden_size": 5, "cell": "GRU", "reset_after": reset_after} | options,
        dtype=dtype,
        seed=i,
        **shape,
    )
    for i, (label, options, shape) in enumerate(_GRU_CONFIGS)
    for reset_after in (True, False)
    for dtype in DTYPES
]

#: The LSTM's cases: every option of torch.nn.LSTM, 1-3 layers, both directions, both dtypes.
_LSTM_CONFIGS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("1 layer", {}, {}),
    ("1 layer, hx=None, no bias", {"bias": False}, {"hx": False}),
    (
        "2 layers bidirectional, lengths",
        {"num_layers": 2, "bidirectional": True},
        {"lengths": (5, 2, 4)},
    ),
    (
        "2 layers, proj_size, batch_first",
        {"num_layers": 2, "proj_size": 2, "batch_first": True},
        {},
    ),
    (
        "3 layers bidirectional, proj_size, lengths",
        {"num_layers": 3, "bidirectional": True, "proj_size": 3},
        {"lengths": (3, 5), "N": 2, "T": 5},
    ),
    ("unbatched, proj_size, no bias", {"proj_size": 1, "bias": False}, {"unbatched": True}),
    ("3 layers, dropout masks", {"num_layers": 3, "dropout": 0.5}, {"training": True, "N": 2}),
    (
        "2 layers bidirectional, dropout masks, lengths",
        {"num_layers": 2, "bidirectional": True, "dropout": 0.4},
        {"training": True, "lengths": (2, 4), "N": 2, "T": 4},
    ),
]

LSTM_CASES = [
    RNNCase(
        f"LSTM {label}",
        {"input_size": 3, "hidden_size": 4, "cell": "LSTM"} | options,
        dtype=dtype,
        seed=seed,
        **call,
    )
    for seed, (label, options, call) in enumerate(_LSTM_CONFIGS)
    for dtype in DTYPES
]

#: The gated cells' parity cases, run by the report against every oracle that computes each (an
#: oracle's ``unsupported`` says which); the Elman cell's are :data:`PARITY_CASES`.
CELL_CASES: list[RNNCase] = [*LSTM_CASES, *GRU_CASES]

#: The gated cells' layers against central differences, float64, in evaluation mode: the options
#: the oracles' rows cannot all reach (exact arithmetic's size limit) in a few small networks.
FD_CELL_CASES = [
    RNNCase(
        "LSTM bidirectional, lengths",
        {"input_size": 2, "hidden_size": 2, "cell": "LSTM", "bidirectional": True},
        T=3,
        lengths=(3, 1, 2),
    ),
    RNNCase(
        "LSTM unbatched, proj_size, no bias, 2 layers",
        {"input_size": 2, "hidden_size": 2, "cell": "LSTM", "num_layers": 2, "proj_size": 1}
        | {"bias": False},
        T=3,
        unbatched=True,
        seed=1,
    ),
    *(
        RNNCase(
            f"GRU bidirectional, lengths, reset_after={reset_after}",
            {"input_size": 2, "hidden_size": 2, "cell": "GRU", "reset_after": reset_after}
            | {"bidirectional": True},
            T=3,
            lengths=(3, 1, 2),
            seed=2,
        )
        for reset_after in (True, False)
    ),
]
