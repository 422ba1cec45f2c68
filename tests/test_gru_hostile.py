"""The hostile-input property over the GRU's public entry points (tests/test_hostile.py's).

Drawn by hypothesis for every argument of ``gru_forward``/``gru_backward``, the step functions,
``GRU`` and ``GRUCell``, in both reset conventions: extreme finite values, every kind of NumPy
dtype, odd array kinds and wrong types. The call raises a named error or returns finite results
equal to the float64 reference, and no argument changes.
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
RESETS = pytest.mark.parametrize("reset_after", [True, False], ids=["after", "before"])


CORE = {
    "x": (N, T, D),
    "h0": (N, H),
    "Wx": (D, 3 * H),
    "Wh": (H, 3 * H),
    "b": (3 * H,),
    "bh": (3 * H,),
    "dh": (N, T, H),
}


@SETTINGS
@RESETS
@given(data=st.data())
def test_the_functions(reset_after: bool, data: st.DataObject):
    def run(a: dict[str, Any]) -> tuple[Any, ...]:
        h, cache = rr.gru_forward(
            a["x"], a["h0"], a["Wx"], a["Wh"], a["b"], a["bh"], reset_after=reset_after
        )
        return (h, *rr.gru_backward(a["dh"], cache))

    args = moderate_arrays(CORE)
    name = data.draw(st.sampled_from(sorted(CORE)))
    value, _ = data.draw(hostile(CORE[name]))
    named_or_right(run, args, name, value, lambda: run(args | {name: _plain(value)}))


STEP = {
    "x": (N, D),
    "prev_h": (N, H),
    "Wx": (D, 3 * H),
    "Wh": (H, 3 * H),
    "b": (3 * H,),
    "bh": (3 * H,),
    "dnext_h": (N, H),
}


@SETTINGS
@RESETS
@given(data=st.data())
def test_the_step_functions(reset_after: bool, data: st.DataObject):
    def run(a: dict[str, Any]) -> tuple[Any, ...]:
        h, cache = rr.gru_step_forward(
            a["x"], a["prev_h"], a["Wx"], a["Wh"], a["b"], a["bh"], reset_after=reset_after
        )
        return (h, *rr.gru_step_backward(a["dnext_h"], cache))

    args = moderate_arrays(STEP)
    name = data.draw(st.sampled_from(sorted(STEP)))
    value, _ = data.draw(hostile(STEP[name]))
    named_or_right(run, args, name, value, lambda: run(args | {name: _plain(value)}))


def _loaded(layer: Any, a: dict[str, Any]) -> Any:
    layer.load_state_dict({k[len("state_dict.") :]: v for k, v in a.items() if k.startswith("st")})
    return layer


@SETTINGS
@RESETS
@given(data=st.data())
def test_gru(reset_after: bool, data: st.DataObject):
    def make() -> Any:
        return rr.GRU(D, H, num_layers=2, bidirectional=True, reset_after=reset_after, seed=0)

    def run(a: dict[str, Any]) -> tuple[Any, ...]:
        gru = _loaded(make(), a)
        output, h_n = gru(a["input"], a["hx"], a["lengths"])
        grad_input, grad_hx = gru.backward(a["grad_output"], a["grad_h_n"])
        return (output, h_n, grad_input, grad_hx, *gru.grads.values())

    rng = np.random.default_rng(2)
    args: dict[str, Any] = {f"state_dict.{k}": v for k, v in make().state_dict().items()}
    args |= {
        "input": rng.uniform(-1, 1, (T, N, D)),
        "hx": rng.uniform(-1, 1, (4, N, H)),
        "grad_output": np.ones((T, N, 2 * H)),
        "grad_h_n": np.ones((4, N, H)),
        "lengths": np.array([3, 2]),
    }
    name = data.draw(st.sampled_from(sorted(args)))
    value, _ = data.draw(hostile(np.shape(args[name])))
    reference = None if name == "lengths" else lambda: run(args | {name: _plain(value)})
    named_or_right_as_shown(run, args, name, value, reference)


@SETTINGS
@RESETS
@given(data=st.data())
def test_gru_cell(reset_after: bool, data: st.DataObject):
    def make() -> Any:
        return rr.GRUCell(D, H, reset_after=reset_after, seed=0)

    def run(a: dict[str, Any]) -> tuple[Any, ...]:
        cell = _loaded(make(), a)
        h1 = cell(a["input"], a["hx"])
        grad_input, grad_hx = cell.backward(a["grad"])
        return (h1, grad_input, grad_hx, *cell.grads.values())

    rng = np.random.default_rng(3)
    args: dict[str, Any] = {f"state_dict.{k}": v for k, v in make().state_dict().items()}
    args |= {
        "input": rng.uniform(-1, 1, (N, D)),
        "hx": rng.uniform(-1, 1, (N, H)),
        "grad": np.ones((N, H)),
    }
    name = data.draw(st.sampled_from(sorted(args)))
    value, _ = data.draw(hostile(np.shape(args[name])))
    named_or_right_as_shown(run, args, name, value, lambda: run(args | {name: _plain(value)}))
