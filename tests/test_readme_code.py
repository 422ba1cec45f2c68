"""The README's Python blocks run as written, in order, and their comments' shapes are true.

A newcomer pastes them one after the other into one session, so they run in one namespace; the
training block uses a dataset the README leaves to the reader, given here as a small one.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks() -> list[str]:
    return re.findall(
        r"^```python\n(.*?)^```", README.read_text(encoding="utf-8"), re.MULTILINE | re.DOTALL
    )


def test_the_tour_runs_in_order_and_its_shapes_are_as_commented():
    blocks = _blocks()
    assert len(blocks) == 5
    ns: dict[str, Any] = {}
    for block in blocks[:4]:
        exec(compile(block, str(README), "exec"), ns)  # noqa: S102 (the README's own code)
    N, T, D, H = 2, 5, 3, 4
    assert ns["h"].shape == (N, T, H)
    assert [g.shape for g in (ns["dx"], ns["dh0"], ns["dWx"], ns["dWh"], ns["db"])] == [
        (N, T, D),
        (N, H),
        (D, H),
        (H, H),
        (H,),
    ]
    assert ns["grad_x"].shape == ns["x"].shape == (7, 3, 10)
    assert ns["rnn"].grads["weight_hh_l1_reverse"].shape == (20, 20)
    lstm, gru, before = ns["lstm"], ns["gru"], ns["before"]
    assert [a.shape for a in lstm(ns["x"])[1]] == [(2, 3, 5), (2, 3, 20)]
    assert lstm(ns["x"])[0].shape == (7, 3, 5)
    assert ns["output"].shape == (7, 3, 20)
    assert ns["h_n"].shape == ns["grad_h0"].shape == (1, 3, 20)
    # "the same weights, the other function"
    weights, others = gru.state_dict(), before.state_dict()
    assert all(np.array_equal(weights[name], others[name]) for name in weights)
    assert np.abs(before(ns["x"])[0] - ns["output"]).max() > 0.01


def test_the_training_block_runs_on_a_dataset_of_its_shapes():
    rng = np.random.default_rng(0)
    X, X_val = rng.standard_normal((60, 4, 3)), rng.standard_normal((20, 4, 3))
    y, y_val = (X[:, -1, 0] > 0).astype(int), (X_val[:, -1, 0] > 0).astype(int)
    ns: dict[str, Any] = {"X": X, "y": y, "X_val": X_val, "y_val": y_val}
    exec(compile(_blocks()[4], str(README), "exec"), ns)  # noqa: S102
    assert 0.0 <= ns["accuracy"] <= 1.0
