"""The GRU against Keras' GRU in both conventions, and proof that Keras' own cell computed it.

Keras is the framework that computes both conventions under one name (``reset_after`` True, its
default, or False), with its own gate order (z, r, h) and bias layouts; the oracle maps torch's
raw arrays to them (oracles/keras.py). On its torch backend Keras could hand a reset_after=True
GRU to a fused loop of its backend; the oracle asks for its cell, and the tests here show that
``GRUCell.call`` ran every step and that no torch GRU kernel did.
"""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

from reference_rnn.core.measure import TOLERANCE
from reference_rnn.oracles import keras as keras_oracle
from reference_rnn.verify.cases import oracle_error
from reference_rnn.verify.suite import GRU_CASES

pytest.importorskip("torch", reason="the keras oracle runs on keras' torch backend")
if importlib.util.find_spec("keras") is None:
    pytest.skip("keras is not installed", allow_module_level=True)
keras = keras_oracle.import_keras()

pytestmark = pytest.mark.usefixtures("torch")  # one torch thread: the networks are tiny


def ids(case):
    return f"{case.name} {case.dtype}"


@pytest.mark.parametrize("case", GRU_CASES, ids=ids)
def test_every_gru_case_agrees_with_keras(case):
    problem = case.run()[1]
    assert keras_oracle.unsupported(problem) is None
    error = oracle_error(case, keras_oracle)
    if case.dtype == "float32":
        assert keras_oracle.known_difference(problem) is None
        assert error <= TOLERANCE["float32"], f"{error:.2e}"
    else:  # Keras' float64 products are float32 ones: far above 1e-12, far below a mistake
        assert "GRUCell's products likewise" in keras_oracle.known_difference(problem)
        assert 1e-9 < error < 1e-6, f"{error:.2e}"


@pytest.mark.parametrize("reset_after", [True, False])
def test_keras_own_cell_ran_every_step_and_no_torch_kernel(monkeypatch, torch, reset_after):
    case = next(
        c
        for c in GRU_CASES
        if "2 layers, no bias" in c.name and c.config.reset_after is reset_after
    )
    problem = case.run()[1]
    calls = []
    cell_call = keras.layers.GRUCell.call

    def counted(self, inputs, states, training=False):
        calls.append(self.reset_after)
        return cell_call(self, inputs, states, training=training)

    def refused(*args, **kwargs):
        raise AssertionError("a fused GRU ran instead of Keras' cell")

    monkeypatch.setattr(keras.layers.GRUCell, "call", counted)
    monkeypatch.setattr(torch._VF, "gru", refused)
    # the layer calls keras.src.backend.gru, the torch backend's fused loop
    monkeypatch.setattr(sys.modules["keras.src.backend"], "gru", refused)
    monkeypatch.setattr(sys.modules["keras.src.backend.torch.rnn"], "gru", refused)
    results = keras_oracle.run(problem)
    # per layer, one call per step and one more: Keras' torch backend runs the cell on step 0
    # first to learn its output's shape (keras/src/backend/torch/rnn.py, output_time_zero)
    T, L = 5, 2
    assert calls == [reset_after] * ((T + 1) * L)
    assert np.isfinite(results["output"]).all()


@pytest.mark.parametrize(("reset_after", "bias_shape"), [(True, (2, 15)), (False, (15,))])
def test_keras_bias_layouts_and_gate_order(reset_after, bias_shape):
    rng = np.random.default_rng(0)
    H, D = 5, 4
    W_ih, W_hh = rng.standard_normal((3 * H, D)), rng.standard_normal((3 * H, H))
    b_ih, b_hh = rng.standard_normal(3 * H), rng.standard_normal(3 * H)
    problem = next(c for c in GRU_CASES if c.config.reset_after is reset_after).problem()
    kernel, recurrent, bias = keras_oracle._gru_weights(problem, W_ih, W_hh, b_ih, b_hh)
    assert bias.shape == bias_shape
    # Keras' kernel columns are z, r, h: torch's rows H:2H, 0:H, 2H:3H
    np.testing.assert_array_equal(kernel[:, :H], W_ih[H : 2 * H].T)
    np.testing.assert_array_equal(kernel[:, H : 2 * H], W_ih[:H].T)
    np.testing.assert_array_equal(recurrent[:, 2 * H :], W_hh[2 * H :].T)
    layer = keras_oracle._gru(keras, problem)
    layer.build((2, None, D))
    layer.set_weights([kernel, recurrent, bias])
    assert tuple(layer.cell.bias.shape) == bias_shape
