"""Check cases: a configuration, inputs drawn from a seed, and both sides of the comparison.

A case gives its raw arrays as an oracle's :class:`~reference_rnn.oracles.Problem` and runs
reference_rnn on the same arrays (``run``); both sides return the same keys: ``output``, ``h_n``,
``grad_input``, ``grad_hx`` and ``grad.<torch parameter name>`` (an LSTM's also ``c_n`` and
``grad_cx``), and :func:`oracle_error` compares them. The verification report, the golden fixtures and the tests all build on these. Weights are torch's default initialisation, U(-1/sqrt(H), 1/sqrt(H)), the scale at
which the tolerances hold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import ModuleType
from typing import Any, Literal

import numpy as np

from reference_rnn.core.config import RNNConfig
from reference_rnn.core.draw import draw_arrays
from reference_rnn.core.functional import (
    rnn_backward,
    rnn_forward,
    rnn_step_backward,
    rnn_step_forward,
)
from reference_rnn.core.measure import central_differences, scaled_error
from reference_rnn.core.validation import FloatArray
from reference_rnn.layers.gru import GRU
from reference_rnn.layers.lstm_layer import LSTM
from reference_rnn.layers.rnn import RNN
from reference_rnn.layers.simple_rnn import SimpleRNN
from reference_rnn.layers.stack_layer import StackLayer
from reference_rnn.oracles import Problem, Results

__all__ = [
    "CoreCase",
    "RNNCase",
    "finite_difference_error",
    "oracle_error",
    "problem_for",
    "run_rnn",
]


@dataclass(frozen=True)
class RNNCase:
    """An ``RNN`` configuration and the shape of its inputs.

    ``rnn`` is the configuration: an :class:`~reference_rnn.core.config.RNNConfig`, or a mapping
    of its keyword arguments, which is made one (``{"input_size": 4, "hidden_size": 5}``); read
    it as :attr:`config`.
    """

    name: str
    rnn: RNNConfig | Mapping[str, Any]
    N: int = 3
    T: int = 5
    dtype: str = "float64"
    unbatched: bool = False
    hx: bool = True
    lengths: tuple[int, ...] | None = None
    training: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.rnn, RNNConfig):
            object.__setattr__(self, "rnn", RNNConfig(**self.rnn))  # frozen: made once, here

    @property
    def config(self) -> RNNConfig:
        """The configuration of the case's network."""
        assert isinstance(self.rnn, RNNConfig)  # made one by __post_init__
        return self.rnn

    def _seeded_rnn(self) -> StackLayer[Any]:
        """``RNN(**config, dtype, seed)`` (``LSTM``, ``GRU`` for those cells): its parameters are
        the case's seeded draws."""
        layers: dict[str, type[StackLayer[Any]]] = {"RNN": RNN, "LSTM": LSTM, "GRU": GRU}
        layer = layers[self.config.cell]
        return layer(**self.config.layer_options(), dtype=self.dtype, seed=self.seed)

    def rnn_for(self, problem: Problem) -> StackLayer[Any]:
        """This package's ``RNN`` for the case, holding the problem's parameters.

        Seeded as :meth:`problem` is, so that in training its dropout masks are drawn from the
        same stream on every run.
        """
        rnn = self._seeded_rnn().train(self.training)
        rnn.load_state_dict(problem.params)
        return rnn

    def problem(self) -> Problem:
        """The raw arrays: torch's default initialisation and inputs drawn from ``seed``.

        The parameters are the seeded draws of ``RNN(..., seed=seed)``: random numbers only, so
        that the golden fixtures keep the values they were recorded with.
        """
        init, c = self._seeded_rnn(), self.config
        rng = np.random.default_rng(self.seed + 1)
        LK, H, D, P = c.num_layers * c.num_directions, c.hidden_size, c.input_size, c.output_size
        x_shape: tuple[int, ...]
        batch: tuple[int, ...] = (LK,) if self.unbatched else (LK, self.N)
        if self.unbatched:
            x_shape = (self.T, D)
        else:
            x_shape = (self.N, self.T, D) if c.batch_first else (self.T, self.N, D)
        hx_shape = (*batch, P)
        out_shape = (*x_shape[:-1], c.num_directions * P)
        x = rng.standard_normal(x_shape).astype(self.dtype)
        hx = rng.uniform(-1, 1, hx_shape).astype(self.dtype) if self.hx else None
        grad_output = rng.standard_normal(out_shape).astype(self.dtype)
        grad_h_n = rng.standard_normal(hx_shape).astype(self.dtype)
        cx = grad_c_n = None
        if c.cell == "LSTM":  # drawn after the Elman cell's arrays, which keep their values
            cx = rng.uniform(-2, 2, (*batch, H)).astype(self.dtype) if self.hx else None
            grad_c_n = rng.standard_normal((*batch, H)).astype(self.dtype)
        return problem_for(init, x, hx, self.lengths, grad_output, grad_h_n, cx, grad_c_n)

    def run(self) -> tuple[Results, Problem]:
        """This package's results, and the problem with the dropout masks they used, if any."""
        problem = self.problem()
        rnn = self.rnn_for(problem)
        results = run_rnn(rnn, problem)
        if rnn.dropout_masks:
            problem = replace(problem, dropout_masks=tuple(rnn.dropout_masks))
        return results, problem

    def expected(self, results: Results) -> Results:
        """An oracle's results, keyed and shaped as :meth:`run`'s (they already are)."""
        return results


def problem_for(
    rnn: StackLayer[Any],
    x: object,
    hx: object | None,
    lengths: object | None,
    grad_output: object,
    grad_h_n: object,
    cx: object | None = None,
    grad_c_n: object | None = None,
) -> Problem:
    """``rnn``'s configuration and a copy of its parameters, with these inputs, as raw arrays.

    The arrays are laid out as for ``rnn.forward`` and ``rnn.backward``; they are converted to
    the RNN's dtype. ``cx`` and ``grad_c_n`` are an LSTM's.
    """
    dtype = rnn.dtype.name

    def cast(a: object) -> FloatArray:
        return np.asarray(a, dtype=dtype)

    return Problem(
        config=rnn.config,
        dtype=dtype,
        params=rnn.state_dict(),
        x=cast(x),
        hx=None if hx is None else cast(hx),
        lengths=None if lengths is None else np.asarray(lengths, dtype=np.int64),
        grad_output=cast(grad_output),
        grad_h_n=cast(grad_h_n),
        cx=None if cx is None else cast(cx),
        grad_c_n=None if grad_c_n is None else cast(grad_c_n),
    )


def run_rnn(rnn: StackLayer[Any], problem: Problem) -> Results:
    """``rnn``'s forward and backward on the problem's inputs and upstream gradients."""
    if isinstance(rnn, LSTM):
        hx = None if problem.hx is None else (problem.hx, problem.cx)
        output, (h_n, c_n) = rnn(problem.x, hx, problem.lengths)
        upstream = (problem.grad_h_n, problem.grad_c_n)
        grad_input, (grad_h0, grad_c0) = rnn.backward(problem.grad_output, upstream)
        results = {"output": output, "h_n": h_n, "c_n": c_n, "grad_input": grad_input}
        results |= {"grad_hx": grad_h0, "grad_cx": grad_c0}
    else:
        assert isinstance(rnn, RNN | GRU)  # the other layers of a case: h alone
        output, h_n = rnn(problem.x, problem.hx, problem.lengths)
        grad_input, grad_hx = rnn.backward(problem.grad_output, problem.grad_h_n)
        results = {"output": output, "h_n": h_n, "grad_input": grad_input, "grad_hx": grad_hx}
    return results | {f"grad.{name}": grad for name, grad in rnn.grads.items()}


def finite_difference_error(case: RNNCase) -> float:
    """The worst scaled error of ``RNN.backward``'s gradients against central differences.

    Differentiates ``(output * grad_output).sum() + (h_n * grad_h_n).sum()`` with respect to the
    input, the initial state and every parameter, in float64, in evaluation mode.
    """
    problem = case.problem()
    rnn = case.rnn_for(problem).eval()
    analytic = run_rnn(rnn, problem)
    point = {"grad_input": problem.x, "grad_hx": problem.hx, "grad_cx": problem.cx}
    point = {name: value for name, value in point.items() if value is not None}
    point |= {f"grad.{name}": value for name, value in problem.params.items()}

    def loss(p: Mapping[str, FloatArray]) -> float:
        rnn.load_state_dict({name: p[f"grad.{name}"] for name in problem.params})
        states = {key: value for key, value in p.items() if not key.startswith("grad.")}
        moved = replace(problem, x=states["grad_input"], hx=states.get("grad_hx"))
        results = run_rnn(rnn, replace(moved, cx=states.get("grad_cx")))
        upstream = {"output": problem.grad_output, "h_n": problem.grad_h_n, "c_n": problem.grad_c_n}
        return float(sum((results[key] * g).sum() for key, g in upstream.items() if g is not None))

    numeric = central_differences(loss, point)
    return max(scaled_error(analytic[name], numeric[name]) for name in numeric)


def oracle_error(case: RNNCase | CoreCase, oracle: ModuleType) -> float:
    """The worst scaled error of this package's results against ``oracle``'s, on ``case``.

    ``oracle`` is a module of :mod:`reference_rnn.oracles`; only the results it returns are
    compared (forward-only oracles return no gradients).
    """
    ours, problem = case.run()  # first: with dropout, the oracle is given the masks we drew
    theirs = case.expected(oracle.run(problem))
    return max(scaled_error(ours[name], theirs[name]) for name in theirs)


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
        T = 1 if self.api == "step" else self.T
        arrays = draw_arrays(self.N, T, self.D, self.H, seed=self.seed, zero_h0=self.zero_h0)
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

    def problem(self) -> Problem:
        """The same network for an oracle: weight_ih = Wx.T, bias_ih = b, bias_hh = 0."""
        a = self.arrays()
        return Problem(
            config=RNNConfig(self.D, self.H, nonlinearity=self.nonlinearity, batch_first=True),
            dtype=self.dtype,
            params={
                "weight_ih_l0": a["Wx"].T,
                "weight_hh_l0": a["Wh"].T,
                "bias_ih_l0": a["b"],
                "bias_hh_l0": np.zeros_like(a["b"]),
            },
            x=a["x"],
            hx=a["h0"][None],
            lengths=None,
            grad_output=a["dh"],
            grad_h_n=np.zeros_like(a["h0"])[None],
        )

    def run(self) -> tuple[Results, Problem]:
        """This package's results and the problem an oracle is given."""
        return self.run_ours(), self.problem()

    def expected(self, results: Results) -> Results:
        """An oracle's results for :meth:`problem`, keyed and shaped as :meth:`run_ours`'s."""
        results = {name: value for name, value in results.items() if name != "h_n"}
        if self.api == "simple":
            results["output"] = results["output"][:, -1]  # SimpleRNN returns the final state
        return results
