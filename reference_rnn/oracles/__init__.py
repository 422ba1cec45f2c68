"""Independent implementations that the reference is checked against: one module per framework.

Every oracle takes a :class:`Problem`, raw arrays and options and nothing of reference_rnn's,
builds its framework's own objects from them with that framework's public API, and returns
:data:`Results` keyed as ``RNN``'s results are: ``output``, ``h_n``, ``grad_input``, ``grad_hx``
and ``grad.<torch parameter name>`` (the gradients only where the framework differentiates).
None of them calls ``RNN.to_torch``, ``load_state_dict``, ``from_torch`` or any other
computation of this package, so that a mistake of ours cannot be mirrored on both sides.

An oracle module has:

- ``NAME``: how the report names it (``"torch"``, ``"jax"``, ...);
- ``GRADIENTS``: whether ``run`` returns gradients;
- ``version() -> str``: the framework's version; an ImportError that says how to install it;
- ``unsupported(problem) -> str | None``: why the framework cannot express ``problem``, or None;
- ``known_difference(problem) -> str | None``: why the framework is known to disagree with
  torch's documented semantics on ``problem`` (the report shows the measured difference as such
  and never counts it as a pass or a failure), or None;
- ``run(problem) -> Results``.

Frameworks are imported on first use, through :mod:`reference_rnn.core.optional`:
``import reference_rnn`` needs NumPy only.

May import the core only (its configuration, its argument types, the optional-import helper),
never the layers, their exporters or a harness: an oracle builds its framework's own objects, so
that nothing of the package's computation stands on both sides of a comparison.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

import numpy as np
from numpy.typing import NDArray

from reference_rnn.core.config import RNNConfig
from reference_rnn.core.validation import FloatArray

__all__ = ["ORACLES", "FloatArray", "Problem", "Results", "load"]

Results = dict[str, FloatArray]

#: Every oracle, by the name the report and ``verify --against`` use, and where its code lives.
ORACLES: dict[str, str] = {
    "torch": "reference_rnn.oracles.torch",
    "jax": "reference_rnn.oracles.jax",
    "keras": "reference_rnn.oracles.keras",
    "onnxruntime": "reference_rnn.oracles.onnxruntime",
    "onnx reference": "reference_rnn.oracles.onnx_reference",
    "exact": "reference_rnn.oracles.exact",
}


def load(name: str) -> ModuleType:
    """The oracle module called ``name`` (a key of :data:`ORACLES`)."""
    if name not in ORACLES:
        msg = f"unknown oracle {name!r}; choose from {', '.join(ORACLES)}"
        raise ValueError(msg)
    return importlib.import_module(ORACLES[name])


@dataclass(frozen=True, eq=False)
class Problem:
    """One multi-layer Elman network, its inputs and the upstream gradients, as raw arrays.

    Shapes: N batch, T time steps, D = input_size, H = hidden_size, L = num_layers,
    K = 2 if bidirectional else 1. The semantics are ``torch.nn.RNN``'s (see ``RNN``).

    config : the network's options (``RNNConfig``: torch.nn.RNN's); ``config.dropout`` is not
        applied by an oracle, which multiplies in ``dropout_masks`` when they are given
    dtype : "float64" or "float32", every array's dtype
    params : dict of torch's names to arrays in torch's layout
        ``weight_ih_l{l}{_reverse}`` (H, D_l), ``weight_hh_l{l}{_reverse}`` (H, H),
        ``bias_ih_l{l}{_reverse}`` and ``bias_hh_l{l}{_reverse}`` (H,) when ``bias``; layer ``l``
        direction ``k`` computes ``h_t = act(x_t @ weight_ih.T + bias_ih + h_{t-1} @ weight_hh.T
        + bias_hh)``.
    x : (T, N, D), (N, T, D) with batch_first, or (T, D) unbatched
    hx : (L * K, N, H), (L * K, H) unbatched, or None for zeros
    lengths : (N,) int64 in [1, T], or None: packed-sequence semantics
    grad_output : the shape of ``output``, (T, N, K * H) or (N, T, K * H) or (T, K * H)
    grad_h_n : the shape of ``h_n``, (L * K, N, H) or (L * K, H)
    dropout_masks : one per layer but the last, laid out like ``output``, multiplied into that
        layer's output; None when no dropout is applied (evaluation, or dropout = 0)
    cx, grad_c_n : an LSTM's (``config.cell == "LSTM"``) initial cell state and the upstream
        gradient of ``c_n``, (L * K, N, H) or (L * K, H); ``cx`` is None exactly when ``hx`` is.
        An LSTM's h is P = ``config.output_size`` wide: ``hx``, ``h_n`` (L * K, N, P), ``output``
        (., K * P). Its results also have ``c_n`` and ``grad_cx``.
    """

    config: RNNConfig
    dtype: str
    params: dict[str, FloatArray]
    x: FloatArray
    hx: FloatArray | None
    lengths: NDArray[np.int64] | None
    grad_output: FloatArray
    grad_h_n: FloatArray
    dropout_masks: tuple[FloatArray, ...] | None = None
    cx: FloatArray | None = None
    grad_c_n: FloatArray | None = None

    @property
    def unbatched(self) -> bool:
        return self.x.ndim == 2

    def describe(self) -> str:
        """The network and the options of the call, for messages."""
        options = [self.config.describe(), self.dtype]
        options += ["unbatched"] * self.unbatched
        options += ["hx=None"] * (self.hx is None) + ["lengths"] * (self.lengths is not None)
        options += ["dropout masks"] * (self.dropout_masks is not None)
        return ", ".join(options)
