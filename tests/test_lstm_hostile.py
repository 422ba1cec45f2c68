"""The hostile-input property over the LSTM's public entry points (tests/test_hostile.py's).

Drawn by hypothesis for every argument of ``lstm_forward``/``lstm_backward``, the step functions,
``LSTM`` and ``LSTMCell``: extreme finite values, every kind of NumPy dtype, odd array kinds and
wrong types. The call raises a named error or returns finite results equal to the float64
reference, and no argument changes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_hostile import (
    SETTINGS,
    _plain,
    hostile,
    moderate_arrays,
    named_or_right,
    named_or_right_as_shown,
)

import reference_rnn as rr

pytestmark = pytest.mark.filterwarnings("ignore:Creating an ndarray from ragged")

N, T, D, H = 2, 3, 2, 3


CORE = {
    "x": (N, T, D),
    "h0": (N, H),
    "Wx": (D, 4 * H),
    "Wh": (H, 4 * H),
    "b": (4 * H,),
    "c0": (N, H),
    "dh": (N, T, H),
    "dcT": (N, H),
}


def _core(a: dict[str, Any]) -> tuple[Any, ...]:
    h, cT, cache = rr.lstm_forward(a["x"], a["h0"], a["Wx"], a["Wh"], a["b"], a["c0"])
    return (h, cT, *rr.lstm_backward(a["dh"], a["dcT"], cache))


@SETTINGS
@given(st.data())
def test_the_functions(data: st.DataObject):
    args = moderate_arrays(CORE)
    name = data.draw(st.sampled_from(sorted(CORE)))
    value, _ = data.draw(hostile(CORE[name]))
    named_or_right(_core, args, name, value, lambda: _core(args | {name: _plain(value)}))


STEP = {
    "x": (N, D),
    "prev_h": (N, H),
    "prev_c": (N, H),
    "Wx": (D, 4 * H),
    "Wh": (H, 4 * H),
    "b": (4 * H,),
    "dnext_h": (N, H),
    "dnext_c": (N, H),
}


def _step(a: dict[str, Any]) -> tuple[Any, ...]:
    h, c, cache = rr.lstm_step_forward(a["x"], a["prev_h"], a["prev_c"], a["Wx"], a["Wh"], a["b"])
    return (h, c, *rr.lstm_step_backward(a["dnext_h"], a["dnext_c"], cache))


@SETTINGS
@given(st.data())
def test_the_step_functions(data: st.DataObject):
    args = moderate_arrays(STEP)
    name = data.draw(st.sampled_from(sorted(STEP)))
    value, _ = data.draw(hostile(STEP[name]))
    named_or_right(_step, args, name, value, lambda: _step(args | {name: _plain(value)}))


def _lstm(a: dict[str, Any]) -> tuple[Any, ...]:
    lstm = rr.LSTM(D, H, num_layers=2, bidirectional=True, proj_size=2, seed=0)
    lstm.load_state_dict({k[len("state_dict.") :]: v for k, v in a.items() if k.startswith("st")})
    output, (h_n, c_n) = lstm(a["input"], (a["hx[0]"], a["hx[1]"]), a["lengths"])
    grads = lstm.backward(a["grad_output"], (a["grad_hx[0]"], a["grad_hx[1]"]))
    return (output, h_n, c_n, grads[0], *grads[1], *lstm.grads.values())


@SETTINGS
@given(st.data())
def test_lstm(data: st.DataObject):
    lstm = rr.LSTM(D, H, num_layers=2, bidirectional=True, proj_size=2, seed=0)
    rng = np.random.default_rng(2)
    args: dict[str, Any] = {f"state_dict.{k}": v for k, v in lstm.state_dict().items()}
    args |= {
        "input": rng.uniform(-1, 1, (T, N, D)),
        "hx[0]": rng.uniform(-1, 1, (4, N, 2)),
        "hx[1]": rng.uniform(-1, 1, (4, N, H)),
        "grad_output": np.ones((T, N, 4)),
        "grad_hx[0]": np.ones((4, N, 2)),
        "grad_hx[1]": np.ones((4, N, H)),
        "lengths": np.array([3, 2]),
    }
    name = data.draw(st.sampled_from(sorted(args)))
    value, _ = data.draw(hostile(np.shape(args[name])))
    reference = None if name == "lengths" else lambda: _lstm(args | {name: _plain(value)})
    named_or_right_as_shown(_lstm, args, name, value, reference)


def _cell(a: dict[str, Any]) -> tuple[Any, ...]:
    cell = rr.LSTMCell(D, H, seed=0)
    cell.load_state_dict({k[len("state_dict.") :]: v for k, v in a.items() if k.startswith("st")})
    h1, c1 = cell(a["input"], (a["hx[0]"], a["hx[1]"]))
    grad_input, (grad_h0, grad_c0) = cell.backward(a["grad_h"], a["grad_c"])
    return (h1, c1, grad_input, grad_h0, grad_c0, *cell.grads.values())


@SETTINGS
@given(st.data())
def test_lstm_cell(data: st.DataObject):
    cell = rr.LSTMCell(D, H, seed=0)
    rng = np.random.default_rng(3)
    args: dict[str, Any] = {f"state_dict.{k}": v for k, v in cell.state_dict().items()}
    args |= {
        "input": rng.uniform(-1, 1, (N, D)),
        "hx[0]": rng.uniform(-1, 1, (N, H)),
        "hx[1]": rng.uniform(-1, 1, (N, H)),
        "grad_h": np.ones((N, H)),
        "grad_c": np.ones((N, H)),
    }
    name = data.draw(st.sampled_from(sorted(args)))
    value, _ = data.draw(hostile(np.shape(args[name])))
    named_or_right_as_shown(_cell, args, name, value, lambda: _cell(args | {name: _plain(value)}))
