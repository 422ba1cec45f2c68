"""The float32-drift experiment: float32's error against float64 as T and the weights grow.

One tanh layer at torch's initialisation times a scale; both sides get exactly the same float32
values, so the error is the arithmetic's. The HTML report plots it: why the float32 tolerance holds
at torch's initialisation, and where the chaotic regime begins.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from reference_rnn.core.measure import TOLERANCE, scaled_error
from reference_rnn.layers.rnn import RNN
from reference_rnn.oracles import Problem, Results
from reference_rnn.verify.cases import CoreCase, run_rnn

#: Sequence lengths and recurrent-weight scales (times torch's initialisation) of the drift plot.
LENGTHS = (1, 3, 10, 30, 100, 300, 1000)
LENGTH_SCALES = (1.0, 2.0, 3.0)
SCALES = tuple(float(s) for s in np.geomspace(0.25, 8.0, 16))
SCALE_LENGTH = 200


@dataclass(frozen=True)
class Drift:
    """float32's worst scaled error (output and every gradient) against float64, same arrays.

    ``by_length[scale]`` has one error per entry of ``lengths``; ``by_scale`` one per entry of
    ``scales``, at ``T = scale_length``; ``radii`` is the spectral radius of the recurrent weights
    at each scale.
    """

    baseline: str  # what computed the float64 side
    lengths: tuple[int, ...]
    by_length: dict[float, list[float]]
    scales: tuple[float, ...]
    scale_length: int
    radii: list[float]
    by_scale: list[float]
    tolerance: float


def _ours(problem: Problem) -> Results:
    """This package's ``RNN`` (one layer, batch-first) on the problem, in its dtype."""
    config = problem.config
    rnn = RNN(config.input_size, config.hidden_size, batch_first=True, dtype=problem.dtype)
    rnn.load_state_dict(problem.params)
    return run_rnn(rnn, problem)


def _float64_baseline() -> tuple[str, Callable[[Problem], Results]]:
    """torch in float64 when it is installed (independent of this package), else ourselves."""
    torch_oracle = importlib.import_module("reference_rnn.oracles.torch")
    try:
        version = torch_oracle.version()
    except ImportError:
        return "reference_rnn float64 (torch is not installed)", _ours
    torch = torch_oracle.import_torch()

    def run(problem: Problem) -> Results:
        # H = 32: a second thread only waits for the first (here 11 s instead of 0.2 s at T = 1000)
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return dict(torch_oracle.run(problem))
        finally:
            torch.set_num_threads(threads)

    return f"torch {version} float64", run


def _as_float64(problem: Problem) -> Problem:
    """The same values in float64: the float32 inputs are exact in float64."""

    def up(a: Any) -> Any:
        return None if a is None else np.asarray(a, dtype=np.float64)

    return replace(
        problem,
        dtype="float64",
        params={name: up(value) for name, value in problem.params.items()},
        x=up(problem.x),
        hx=up(problem.hx),
        grad_output=up(problem.grad_output),
        grad_h_n=up(problem.grad_h_n),
    )


def _scaled(problem: Problem, scale: float, T: int) -> Problem:
    """The problem's first T steps, with the recurrent weights multiplied by ``scale``."""
    weight_hh = (problem.params["weight_hh_l0"] * np.float32(scale)).astype(np.float32)
    return replace(
        problem,
        params=problem.params | {"weight_hh_l0": weight_hh},
        x=problem.x[:, :T],  # batch-first (N, T, D)
        grad_output=problem.grad_output[:, :T],  # (N, T, H)
    )


def measure_drift(
    lengths: Sequence[int] = LENGTHS,
    length_scales: Sequence[float] = LENGTH_SCALES,
    scales: Sequence[float] = SCALES,
    scale_length: int = SCALE_LENGTH,
    H: int = 32,
) -> Drift:
    """float32 against float64 on one tanh layer at torch's initialisation times a scale.

    One float32 problem of ``max(lengths, scale_length)`` steps is drawn; shorter sequences are its
    prefixes. Both sides get exactly the same (float32) values, so the error is the arithmetic's.
    """
    T_max = max(*lengths, scale_length)
    base = CoreCase("drift", "sequence", N=4, T=T_max, D=8, H=H, dtype="float32").problem()
    label, float64 = _float64_baseline()

    def error(scale: float, T: int) -> float:
        problem = _scaled(base, scale, T)
        ours, theirs = _ours(problem), float64(_as_float64(problem))
        return max(scaled_error(ours[name], theirs[name]) for name in theirs)

    weight_hh = base.params["weight_hh_l0"].astype(np.float64)
    return Drift(
        baseline=label,
        lengths=tuple(lengths),
        by_length={s: [error(s, T) for T in lengths] for s in length_scales},
        scales=tuple(scales),
        scale_length=scale_length,
        radii=[float(np.abs(np.linalg.eigvals(weight_hh * s)).max()) for s in scales],
        by_scale=[error(s, scale_length) for s in scales],
        tolerance=TOLERANCE["float32"],
    )


__all__ = ["Drift", "measure_drift"]
