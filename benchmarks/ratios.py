"""The per-call cost of the core against its peers, as ratios: medians of per-round ratios.

At the exercise's size, (N, T, D, H) = (1, 3, 2, 4), a call costs tens of microseconds, almost
all of it fixed: argument checks, NumPy's per-call overhead, the result checks. There it prints

- ``core / JAX``: ``rnn_forward`` + ``rnn_backward`` (checks on, the default) against JAX's
  forward and ``jax.vjp`` compiled together by ``jax.jit`` (``bench.jax_contender``);
- ``fwd / onnxruntime``: ``rnn_forward`` alone against onnxruntime running ``RNN.to_onnx()``,
  whose RNN kernel is float32 only: the float64 row compares our float64 with its float32;
- ``step / JAX``: ``rnn_step_forward`` + ``rnn_step_backward`` (what the checker and the
  exercise's step functions call) against the same JAX function at T = 1.

At the larger sizes it prints ``core / torch`` (``torch.nn.RNN`` forward + backward) and
``core / floor`` (the products alone, ``bench.floor_contender``).

The contenders of a row take turns as in ``bench.py`` (``bench.time_interleaved``: each round
starts one place later, a pause before every turn). A turn is ``runs`` calls; its time is the
median of its calls, robust to the preemptions of a shared machine. Every ratio is taken within
one round, and the table shows the median of those per-round ratios with its first and third
quartiles, so a load that comes and goes moves both sides of a ratio alike.

Usage, from the repository root::

    python benchmarks/ratios.py              # the small size, then the large ones (minutes)
    python benchmarks/ratios.py --quick      # the small size only
    python benchmarks/ratios.py --rounds 21 --large-rounds 7 --threads 2
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import numpy as np
import torch
from bench import (
    DTYPES,
    SIZES,
    Array,
    Contender,
    Problem,
    core_contender,
    core_forward_contender,
    core_weights,
    floor_contender,
    import_jax,
    jax_contender,
    log,
    make_problem,
    numpy_blas,
    onnxruntime_contender,
    optional,
    time_interleaved,
    torch_contender,
)
from threadpoolctl import threadpool_limits

import reference_rnn as rr

SMALL = SIZES[0]  # the exercise's (1, 3, 2, 4)
LARGE = SIZES[1:]
RUNS_SMALL = 200  # calls per turn at the small size: about 10 ms, 50 times the pause before it
# (what, numerator, denominator) per row
SMALL_RATIOS = (
    ("core / JAX", "core", "JAX"),
    ("fwd / onnxruntime", "core fwd", "onnxruntime"),
    ("step / JAX", "step", "JAX step"),
)
LARGE_RATIOS = (("core / torch", "core", "torch"), ("core / floor", "core", "floor"))


def step_contender(problem: Problem) -> Contender:
    """``rnn_step_forward`` then ``rnn_step_backward`` on the problem's first step."""
    Wx, Wh, b = core_weights(problem.module)
    x, h0, G = problem.x[:, 0], problem.h0[0], problem.G[:, 0]

    def run() -> tuple[Array, ...]:
        next_h, cache = rr.rnn_step_forward(x, h0, Wx, Wh, b)
        return next_h, *rr.rnn_step_backward(G, cache)

    return Contender("step", run)


def first_step(problem: Problem) -> Problem:
    """The same problem cut to its first step (T = 1), for JAX's side of ``step``."""
    return Problem(problem.module, problem.x[:, :1], problem.h0, problem.G[:, :1])


def renamed(contender: Contender, name: str) -> Contender:
    return Contender(name, contender.run, contender.reset)


def per_round(
    samples: dict[str, list[float]], runs: int, ratios: Sequence[tuple[str, str, str]]
) -> tuple[dict[str, float], dict[str, tuple[float, float, float]]]:
    """Each contender's median seconds over all runs, and each ratio's per-round quartiles.

    ``samples`` holds each contender's runs in order, ``runs`` per turn and one turn a round.
    """
    turns = {
        who: [statistics.median(times[i : i + runs]) for i in range(0, len(times), runs)]
        for who, times in samples.items()
    }
    seconds = {who: statistics.median(times) for who, times in samples.items()}
    quartiles = {}
    for what, top, bottom in ratios:
        if top in turns and bottom in turns:
            values = [a / b for a, b in zip(turns[top], turns[bottom], strict=True)]
            q1, median, q3 = statistics.quantiles(values, n=4) if len(values) > 1 else values * 3
            quartiles[what] = (q1, median, q3)
    return seconds, quartiles


def small_contenders(
    dtype: type[np.floating[Any]], peers: dict[str, ModuleType], threads: int
) -> list[Contender]:
    problem = make_problem(SMALL, dtype)
    contenders = [core_contender(problem), core_forward_contender(problem), step_contender(problem)]
    if "jax" in peers:
        contenders.append(jax_contender(problem, peers["jax"]))
        contenders.append(renamed(jax_contender(first_step(problem), peers["jax"]), "JAX step"))
    if "onnxruntime" in peers:
        # its RNN kernel is float32 only: the float64 row is against its float32
        float32 = make_problem(SMALL, np.float32)
        contenders.append(onnxruntime_contender(float32, peers["onnxruntime"], threads))
    return contenders


def large_contenders(problem: Problem) -> list[Contender]:
    return [floor_contender(problem), core_contender(problem), torch_contender(problem)]


def header(ratios: Sequence[tuple[str, str, str]]) -> list[str]:
    names = " | ".join(what for what, _, _ in ratios)
    return [
        f"| dtype, (N, T, D, H) | {names} | median per call |",
        "|---|" + "--:|" * len(ratios) + "---|",
    ]


def duration(seconds: float) -> str:
    return f"{1e3 * seconds:.1f} ms" if seconds >= 1e-3 else f"{1e6 * seconds:.1f} us"


def row(
    label: str,
    contenders: list[Contender],
    rounds: int,
    runs: int,
    ratios: Sequence[tuple[str, str, str]],
) -> str:
    for contender in contenders:  # warm-up: first touch, JAX's compilation, BLAS threads
        contender.reset()
        contender.run()
    samples = time_interleaved(contenders, rounds, runs)
    seconds, quartiles = per_round(samples, runs, ratios)
    times = ", ".join(f"{who} {duration(s)}" for who, s in seconds.items())
    log(f"{label}: {times}")
    cells = [
        f"{quartiles[what][1]:.2f} ({quartiles[what][0]:.2f}-{quartiles[what][2]:.2f})"
        if what in quartiles
        else "-"
        for what, _, _ in ratios
    ]
    return f"| {label} | " + " | ".join(cells) + f" | {times} |"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="the small size only")
    parser.add_argument("--rounds", type=int, default=21, help="rounds at the small size")
    parser.add_argument("--large-rounds", type=int, default=7, help="rounds at the large sizes")
    parser.add_argument("--threads", type=int, default=None, help="default: numpy's")
    args = parser.parse_args(argv)
    threads = args.threads or numpy_blas().get("num_threads") or 1
    peers = {
        who: module
        for who, module in {
            "jax": import_jax(threads),
            "onnxruntime": optional("onnxruntime"),
        }.items()
        if module is not None
    }
    load = os.getloadavg()[0]
    lines = [
        (
            f"numpy {np.__version__}, torch {torch.__version__}, {threads} threads, "
            f"load average (1 min) {load:.2f} at the start. Medians of per-round ratios "
            "(first-third quartile); below 1: ours is faster."
        ),
        "",
        *header(SMALL_RATIOS),
    ]
    with threadpool_limits(limits=threads, user_api="blas"):
        torch.set_num_threads(threads)
        for dtype in DTYPES:
            label = f"{np.dtype(dtype).name}, {SMALL}"
            contenders = small_contenders(dtype, peers, threads)
            lines.append(row(label, contenders, args.rounds, RUNS_SMALL, SMALL_RATIOS))
        if not args.quick:
            lines += ["", *header(LARGE_RATIOS)]
            for dtype in DTYPES:
                for size in LARGE:
                    label = f"{np.dtype(dtype).name}, {size}"
                    contenders = large_contenders(make_problem(size, dtype))
                    lines.append(row(label, contenders, args.large_rounds, 1, LARGE_RATIOS))
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
