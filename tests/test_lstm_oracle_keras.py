"""The Keras oracle's LSTM: Keras' own ``LSTMCell`` (proved), against the reference and torch.

On the torch backend, ``keras.layers.LSTM`` without a mask hands its whole loop to the backend's
``lstm`` (a fused torch implementation, ``_fallback_lstm`` off CUDA), which would not be Keras'
cell. The oracle sets ``use_cudnn=False``; here the fused paths are made to fail and Keras'
``LSTMCell.call`` is counted, once per step of every layer and direction.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

import pytest
from lstm_cases import LSTM_CASES

from reference_rnn.core import lstm
from reference_rnn.core.measure import TOLERANCE, scaled_error
from reference_rnn.oracles import keras as keras_oracle
from reference_rnn.oracles import torch as torch_oracle
from reference_rnn.verify.cases import RNNCase, oracle_error

pytest.importorskip("torch", reason="the keras oracle runs on keras' torch backend")
if importlib.util.find_spec("keras") is None:
    pytest.skip("keras is not installed", allow_module_level=True)
keras = keras_oracle.import_keras()
importlib.import_module("keras.src.backend.torch.rnn")
torch_rnn = sys.modules["keras.src.backend.torch.rnn"]  # the package's `rnn` is a function

pytestmark = pytest.mark.usefixtures("torch")  # one torch thread: the networks are tiny

SUPPORTED = [case for case in LSTM_CASES if keras_oracle.unsupported(case.problem()) is None]
FLOAT32 = [case for case in SUPPORTED if case.dtype == "float32"]
FLOAT64 = [case for case in SUPPORTED if case.dtype == "float64"]


@pytest.fixture
def only_keras_cell(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """The fused paths fail if called; Keras' LSTMCell.call is counted."""
    calls = {"cell": 0}
    right = keras.layers.LSTMCell.call

    def counted(self, *args, **kwargs):
        calls["cell"] += 1
        return right(self, *args, **kwargs)

    def fused(*args, **kwargs):
        raise AssertionError("the backend's fused LSTM ran")

    monkeypatch.setattr(keras.layers.LSTMCell, "call", counted)
    monkeypatch.setattr(torch_rnn, "_fallback_lstm", fused)
    monkeypatch.setattr(torch_rnn, "_cudnn_lstm", fused)
    return calls


def test_the_projection_is_unsupported():
    assert len(SUPPORTED) == len(LSTM_CASES) - 6  # three cases with proj_size, both dtypes
    problem = next(case for case in LSTM_CASES if case.config.proj_size).problem()
    assert keras_oracle.unsupported(problem) == "Keras' LSTM has no projection (proj_size)"


@pytest.mark.parametrize("case", FLOAT32, ids=lambda case: case.name)
def test_keras_own_cell_agrees_with_the_reference_and_torch(only_keras_cell, case: RNNCase):
    assert oracle_error(case, keras_oracle) <= TOLERANCE["float32"]
    c = case.config
    # one call per step (and one when Keras builds the cell) of every layer and direction
    assert only_keras_cell["cell"] >= c.num_layers * c.num_directions * case.T
    problem = case.run()[1]
    theirs, torchs = keras_oracle.run(problem), torch_oracle.run(problem)
    assert theirs.keys() == torchs.keys()
    for name in torchs:
        assert scaled_error(theirs[name], torchs[name]) <= TOLERANCE["float32"], name


def test_without_use_cudnn_false_keras_would_run_the_fused_torch_path(monkeypatch):
    """The reason for use_cudnn=False: Keras' default calls the backend's fused LSTM."""
    calls = {"fused": 0}
    right = torch_rnn._fallback_lstm

    def counted(*args, **kwargs):
        calls["fused"] += 1
        return right(*args, **kwargs)

    monkeypatch.setattr(torch_rnn, "_fallback_lstm", counted)
    layer = keras.layers.LSTM(4, return_sequences=True)  # use_cudnn="auto"
    layer(keras.ops.ones((2, 3, 5)))
    assert calls["fused"] == 1


@pytest.mark.parametrize("case", FLOAT64, ids=lambda case: case.name)
def test_float64_is_the_known_float32_matmul_difference(case: RNNCase):
    """Keras rounds the cell's products to float32 (FLOAT64_DIFFERENCE): measured 8e-8 to 2e-7
    here, far above float64's 1e-12 and within float32's 1e-5."""
    assert keras_oracle.known_difference(case.problem()) == keras_oracle.FLOAT64_DIFFERENCE
    error = oracle_error(case, keras_oracle)
    assert 1e-9 < error < TOLERANCE["float32"]


@pytest.mark.parametrize("case", FLOAT32[::2], ids=lambda case: case.name)
def test_a_planted_error_fails_keras(monkeypatch: pytest.MonkeyPatch, case: RNNCase):
    """The input gate's derivative i (1 - i) taken as i: a slip in one gate's backward."""
    right = lstm._factors

    def planted(gates, c_prev, tanh_c, out, k):
        right(gates, c_prev, tanh_c, out, k)
        H = gates.shape[2] // 4
        out[:, :, :H] = gates[:, :, 2 * H : 3 * H] * gates[:, :, :H]

    monkeypatch.setattr(lstm, "_factors", planted)
    assert oracle_error(case, keras_oracle) > 100 * TOLERANCE["float32"]
