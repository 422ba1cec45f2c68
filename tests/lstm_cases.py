"""The LSTM's parity cases for the oracles: every option of ``torch.nn.LSTM``, both dtypes."""

from __future__ import annotations

from reference_rnn.verify.cases import RNNCase

_OPTIONS = [
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
        name,
        {"input_size": 3, "hidden_size": 4, "cell": "LSTM"} | options,
        dtype=dtype,
        seed=seed,
        **call,
    )
    for seed, (name, options, call) in enumerate(_OPTIONS)
    for dtype in ("float64", "float32")
]
IDS = [f"{case.name} {case.dtype}" for case in LSTM_CASES]
