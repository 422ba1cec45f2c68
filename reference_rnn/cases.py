"""Check cases: a configuration, inputs drawn from a seed, and both sides of the comparison.

One case runs reference_rnn (:func:`run_ours`) and torch (:func:`run_torch`) on identical weights
and inputs and returns the same keys from both: ``output``, ``h_n``, ``grad_input``, ``grad_hx``
and ``grad.<torch parameter name>``. The verification report, the golden fixtures and the tests all
build on these. Weights are torch's default initialisation, U(-1/sqrt(H), 1/sqrt(H)), the scale at
which the tolerances hold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from reference_rnn._checks import FloatArray
from reference_rnn.compare import central_differences, scaled_error
from reference_rnn.functional import rnn_backward, rnn_forward, rnn_step_backward, rnn_step_forward
from reference_rnn.rnn import RNN
from reference_rnn.simple_rnn import SimpleRNN
from reference_rnn.torch_reference import torch_rnn

__all__ = ["Case", "CoreCase", "finite_difference_error", "run_ours", "run_torch"]

Results = dict[str, FloatArray]


@dataclass(frozen=True)
class Case:
    """An ``RNN`` configuration and the shape of its inputs.

    ``rnn`` holds ``RNN``'s keyword arguments (input_size, hidden_size, num_layers, ...).
    """

    name: str
    rnn: dict[str, Any]
    N: int = 3
    T: int = 5
    dtype: str = "float64"
    unbatched: bool = False
    hx: bool = True
    lengths: tuple[int, ...] | None = None
    training: bool = False
    seed: int = 0

    def build(self) -> tuple[RNN, dict[str, Any]]:
        """The RNN (seeded torch-style init) and its inputs: x, hx, lengths, grad_output, grad_h_n."""
        rnn = RNN(**self.rnn, dtype=self.dtype, seed=self.seed).train(self.training)
        return rnn, self.inputs(rnn)

    def inputs(self, rnn: RNN) -> dict[str, Any]:
        """Inputs and upstream gradients for ``rnn``, drawn from ``seed``."""
        rng = np.random.default_rng(self.seed + 1)
        LK, H, D = rnn.num_layers * rnn.num_directions, rnn.hidden_size, rnn.input_size
        x_shape: tuple[int, ...]
        hx_shape: tuple[int, ...]
        if self.unbatched:
            x_shape, hx_shape = (self.T, D), (LK, H)
        else:
            x_shape = (self.N, self.T, D) if rnn.batch_first else (self.T, self.N, D)
            hx_shape = (LK, self.N, H)
        out_shape = (*x_shape[:-1], rnn.num_directions * H)
        return {
            "x": rng.standard_normal(x_shape).astype(self.dtype),
            "hx": rng.uniform(-1, 1, hx_shape).astype(self.dtype) if self.hx else None,
            "lengths": None if self.lengths is None else np.array(self.lengths),
            "grad_output": rng.standard_normal(out_shape).astype(self.dtype),
            "grad_h_n": rng.standard_normal(hx_shape).astype(self.dtype),
        }


def run_ours(rnn: RNN, inputs: dict[str, Any]) -> Results:
    """Forward and backward of ``rnn``; its dropout masks stay on it for :func:`run_torch`."""
    output, h_n = rnn(inputs["x"], inputs["hx"], inputs["lengths"])
    grad_input, grad_hx = rnn.backward(inputs["grad_output"], inputs["grad_h_n"])
    results = {"output": output, "h_n": h_n, "grad_input": grad_input, "grad_hx": grad_hx}
    return results | {f"grad.{name}": grad for name, grad in rnn.grads.items()}


def finite_difference_error(case: Case) -> float:
    """The worst scaled error of ``RNN.backward``'s gradients against central differences.

    Differentiates ``(output * grad_output).sum() + (h_n * grad_h_n).sum()`` with respect to the
    input, the initial state and every parameter, in float64, in evaluation mode.
    """
    rnn, inputs = case.build()
    rnn.eval()
    analytic = run_ours(rnn, inputs)
    point = {"grad_input": inputs["x"], "grad_hx": inputs["hx"]}
    point = {name: value for name, value in point.items() if value is not None}
    point |= {f"grad.{name}": value for name, value in rnn.state_dict().items()}

    def loss(p: Mapping[str, FloatArray]) -> float:
        rnn.load_state_dict({name: p[f"grad.{name}"] for name in rnn.grads})
        output, h_n = rnn(p["grad_input"], p.get("grad_hx"), inputs["lengths"])
        return float((output * inputs["grad_output"]).sum() + (h_n * inputs["grad_h_n"]).sum())

    numeric = central_differences(loss, point)
    return max(scaled_error(analytic[name], numeric[name]) for name in numeric)


def run_torch(rnn: RNN, inputs: dict[str, Any]) -> Results:
    """What torch computes for ``rnn``'s weights and ``inputs`` (with ``rnn``'s last dropout masks)."""
    masks = rnn.dropout_masks if rnn.training and rnn.dropout > 0 else None
    return torch_rnn(
        rnn,
        inputs["x"],
        inputs["hx"],
        inputs["lengths"],
        inputs["grad_output"],
        inputs["grad_h_n"],
        masks,
    )


@dataclass(frozen=True)
class CoreCase:
    """A case for the functional core or SimpleRNN: one layer, one direction, batch-first.

    ``api`` picks what is checked: ``"step"`` (rnn_step_forward/backward, T = 1),
    ``"sequence"`` (rnn_forward/backward), ``"simple"`` (SimpleRNN, loss on the final state) or
    ``"simple_sequences"`` (SimpleRNN with return_sequences=True).
    """

    name: str
    api: Literal["step", "sequence", "simple", "simple_sequences"]
    N: int = 3
    T: int = 5
    D: int = 4
    H: int = 6
    nonlinearity: Literal["tanh", "relu"] = "tanh"
    dtype: str = "float64"
    zero_h0: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        if self.api.startswith("simple") and self.nonlinearity != "tanh":
            msg = f"SimpleRNN is tanh only, got nonlinearity={self.nonlinearity!r}"
            raise ValueError(msg)

    def arrays(self) -> dict[str, FloatArray]:
        """x (N, T, D), h0 (N, H), Wx, Wh, b and the upstream gradient dh (N, T, H)."""
        rng = np.random.default_rng(self.seed)
        N, T, D, H = self.N, 1 if self.api == "step" else self.T, self.D, self.H
        k = 1 / np.sqrt(H)
        arrays = {
            "x": rng.standard_normal((N, T, D)),
            "h0": np.zeros((N, H)) if self.zero_h0 else rng.uniform(-1, 1, (N, H)),
            "Wx": rng.uniform(-k, k, (D, H)),
            "Wh": rng.uniform(-k, k, (H, H)),
            "b": rng.uniform(-k, k, H),
            "dh": rng.standard_normal((N, T, H)),
        }
        if self.api == "simple":
            arrays["dh"][:, :-1] = 0  # the loss sees only the final state
        return {name: value.astype(self.dtype) for name, value in arrays.items()}

    def forward(self, a: Mapping[str, FloatArray]) -> FloatArray:
        """This case's forward on the arrays ``a``: the states ``(N, T, H)``, or ``(N, H)``."""
        if self.api == "step":
            h, _ = rnn_step_forward(
                a["x"][:, 0], a["h0"], a["Wx"], a["Wh"], a["b"], nonlinearity=self.nonlinearity
            )
            return h[:, None]  # (N, H) -> (N, 1, H)
        if self.api == "sequence":
            h, _ = rnn_forward(
                a["x"], a["h0"], a["Wx"], a["Wh"], a["b"], nonlinearity=self.nonlinearity
            )
            return h
        layer = SimpleRNN(a["Wx"], a["Wh"], a["b"], self.api == "simple_sequences")
        return layer.forward(a["x"], a["h0"])

    def gradients(self) -> Results:
        """This package's forward output and gradients, keyed by the names of :meth:`arrays`."""
        a = self.arrays()
        if self.api == "step":
            h, cache = rnn_step_forward(
                a["x"][:, 0], a["h0"], a["Wx"], a["Wh"], a["b"], nonlinearity=self.nonlinearity
            )
            dx, dh0, dWx, dWh, db = rnn_step_backward(a["dh"][:, 0], cache)
            h, dx = h[:, None], dx[:, None]  # (N, .) -> (N, 1, .)
        elif self.api == "sequence":
            h, seq_cache = rnn_forward(
                a["x"], a["h0"], a["Wx"], a["Wh"], a["b"], nonlinearity=self.nonlinearity
            )
            dx, dh0, dWx, dWh, db = rnn_backward(a["dh"], seq_cache)
        else:
            layer = SimpleRNN(a["Wx"], a["Wh"], a["b"], self.api == "simple_sequences")
            h = layer.forward(a["x"], a["h0"])
            dx = layer.backward(a["dh"] if h.ndim == 3 else a["dh"][:, -1])
            assert layer.dh_prev is not None  # backward has run
            dh0, (dWx, dWh, db) = layer.dh_prev, layer.grads
        return {"output": h, "x": dx, "h0": dh0, "Wx": dWx, "Wh": dWh, "b": db}

    def run_ours(self) -> Results:
        """This package's results, named as torch's for the same one-layer network."""
        g = self.gradients()
        return {
            "output": g["output"],
            "grad_input": g["x"],
            "grad_hx": g["h0"][None],
            "grad.weight_ih_l0": g["Wx"].T,
            "grad.weight_hh_l0": g["Wh"].T,
            "grad.bias_ih_l0": g["b"],
            "grad.bias_hh_l0": g["b"],
        }

    def finite_difference_error(self) -> float:
        """The worst scaled error of this package's gradients against central differences."""
        a = self.arrays()
        dh = a.pop("dh")
        dh = dh if self.api != "simple" else dh[:, -1]

        def loss(point: Mapping[str, FloatArray]) -> float:
            return float((self.forward(point) * dh).sum())

        numeric = central_differences(loss, a)
        analytic = self.gradients()
        return max(scaled_error(analytic[name], numeric[name]) for name in numeric)

    def run_torch(self) -> Results:
        """torch's results for the same network: weight_ih = Wx.T, bias_ih = b, bias_hh = 0."""
        a = self.arrays()
        rnn = RNN(
            self.D, self.H, nonlinearity=self.nonlinearity, batch_first=True, dtype=self.dtype
        )
        rnn.load_state_dict(
            {
                "weight_ih_l0": a["Wx"].T,
                "weight_hh_l0": a["Wh"].T,
                "bias_ih_l0": a["b"],
                "bias_hh_l0": np.zeros_like(a["b"]),
            }
        )
        result = torch_rnn(rnn, a["x"], a["h0"][None], None, a["dh"], np.zeros_like(a["h0"])[None])
        del result["h_n"]  # the final state is output[:, -1]
        if self.api == "simple":
            result["output"] = result["output"][:, -1]  # SimpleRNN returns the final state
        return result
