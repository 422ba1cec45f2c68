"""What the core spends above its own-GEMM floor: each part of that overhead, timed alone.

At one size and dtype, with the same threads as ``bench.py``, the contenders take turns as there
(a pause before each turn, medians): the core's forward+backward, the floor of its products, and
every piece of work the core does besides those products, each run alone at the core's shapes:

- ``input checks``: the finiteness checks of ``x`` and ``dh`` (the weights' are negligible);
- ``copy of x``: the cache's private, time-major copy of ``x`` with its column of ones, into a
  buffer already touched;
- ``first touch``: allocating and writing the three large buffers (``h``, the copy of ``x`` and
  ``dx``) minus rewriting the same buffers once touched: the page faults and the zeroing of fresh
  memory by the kernel;
- ``forward steps``: per step, ``h_t += h_{t-1} @ Wh`` and ``tanh``, without the product;
- ``backward steps``: per block, ``1 - h_t**2`` into the block's buffer; per step, ``g += dh_t``
  (``dh`` in the caller's batch-first layout) and ``da_t *= g``, without the product;
- ``blocks``: ``dWx``, ``dWh`` and ``dx`` one product per block of steps, as the core forms them,
  minus the same three products over all ``T * N`` rows at once, as the floor forms them;
- ``handoff``: both loops as the core runs them (each step's product, then its elementwise work)
  minus the same products back to back minus the two ``steps`` rows: with several BLAS threads,
  what it costs that the helper threads wait, spin or sleep while the main thread does the
  elementwise work of a step, and on a busy machine lose their cores meanwhile;
- ``Python per step``: the same elementwise calls on ``(1, 1)`` arrays, the interpreter's and
  NumPy's dispatch alone; it is part of the two ``steps`` rows, so the sum leaves it out.

Usage, from the repository root::

    python benchmarks/breakdown.py 64 1000 128 256 float64 [--rounds 9] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable
from itertools import pairwise

import numpy as np
import torch
from bench import (
    Array,
    Contender,
    core_contender,
    core_weights,
    floor_contender,
    make_problem,
    numpy_blas,
    time_interleaved,
)
from threadpoolctl import threadpool_limits

from reference_rnn.core.cell_common import steps_per_block

NOT_SUMMED = ("core", "floor", "Python per step")


def parts(
    x: Array, G: Array, Wx: Array, Wh: Array
) -> dict[str, Callable[[], tuple[Array, ...] | None]]:
    """Each piece of the core's work besides its products, at the core's shapes."""
    N, T, D = x.shape
    H = Wh.shape[0]
    dtype = x.dtype
    rng = np.random.default_rng(0)
    h = rng.uniform(-1, 1, (T + 1, N, H)).astype(dtype)
    x1 = np.ones((T, N, D + 1), dtype=dtype)
    B = steps_per_block(N * H * dtype.itemsize)  # as the core has it
    da_block = rng.standard_normal((B, N, H)).astype(dtype)
    da_rows = rng.standard_normal((T * N, H)).astype(dtype)  # all steps' dL/da, as the floor has it
    dx = np.empty((T * N, D), dtype=dtype)
    Wh_T = np.ascontiguousarray(Wh.T)  # as the core has it
    recurrent, g = np.zeros((N, H), dtype=dtype), np.zeros((N, H), dtype=dtype)
    dh = G.transpose(1, 0, 2)  # (N, T, H) -> (T, N, H), a view as the core reads it
    shapes = ((T + 1, N, H), (T, N, D + 1), (T, N, D))
    touched = [np.ones(shape, dtype=dtype) for shape in shapes]
    tiny, scratch = np.full((1, 1), 0.5, dtype=dtype), np.empty((1, 1), dtype=dtype)

    def checks() -> None:
        np.isfinite(x).all()
        np.isfinite(G).all()

    def copy_x() -> None:
        x1[..., :D] = x.transpose(1, 0, 2)
        x1[..., D] = 1

    def fresh() -> tuple[Array, ...]:
        # kept until just before the next run, as the core's results are (time_interleaved)
        buffers = tuple(np.empty(shape, dtype=dtype) for shape in shapes)
        for buffer in buffers:
            buffer.fill(0)
        return buffers

    def refill() -> None:
        for buffer in touched:
            buffer.fill(0)

    def forward_steps() -> None:
        for h_t in h[1:]:
            np.add(h_t, recurrent, out=h_t)
            np.tanh(h_t, out=h_t)

    def backward_elementwise(with_products: bool) -> None:
        # as the core runs them: 1 - h**2 per block, then per step g += dh_t, da_t *= g
        for end in range(T, 0, -B):
            start = max(0, end - B)
            block, h_block = da_block[: end - start], h[start + 1 : end + 1]
            np.multiply(h_block, h_block, out=block)
            np.subtract(1, block, out=block)
            for dh_t, da_t in reversed(list(zip(dh[start:end], block, strict=True))):
                np.add(g, dh_t, out=g)
                np.multiply(da_t, g, out=da_t)
                if with_products:
                    np.matmul(da_t, Wh_T, out=g)

    def backward_steps() -> None:
        backward_elementwise(with_products=False)

    def block_products() -> None:
        for end in range(T, 0, -B):
            start = max(0, end - B)
            rows = (end - start) * N
            da_rows = da_block[: end - start].reshape(rows, H)
            x1[start:end].reshape(rows, D + 1).T @ da_rows
            h[start:end].reshape(rows, H).T @ da_rows
            np.matmul(da_rows, Wx.T, out=dx[start * N : end * N])

    def whole_products() -> None:
        x1.reshape(T * N, D + 1).T @ da_rows
        h[:-1].reshape(T * N, H).T @ da_rows
        np.matmul(da_rows, Wx.T, out=dx)

    def recurrent_products() -> None:
        for h_prev in h[:-1]:
            np.matmul(h_prev, Wh, out=recurrent)
        for t in reversed(range(T)):
            np.matmul(da_block[t % B], Wh_T, out=g)

    def loops() -> None:
        # both loops as the core runs them: each step's product, then its elementwise work
        for h_prev, h_t in pairwise(h):
            np.matmul(h_prev, Wh, out=recurrent)
            np.add(h_t, recurrent, out=h_t)
            np.tanh(h_t, out=h_t)
        backward_elementwise(with_products=True)

    def python_per_step() -> None:
        # the four elementwise calls of a forward and a backward step, on one number each
        for _ in range(T):
            np.add(tiny, tiny, out=scratch)
            np.tanh(tiny, out=scratch)
            np.add(tiny, tiny, out=scratch)
            np.multiply(tiny, tiny, out=scratch)

    return {
        "input checks": checks,
        "copy of x": copy_x,
        "fresh buffers": fresh,
        "refilled buffers": refill,
        "forward steps": forward_steps,
        "backward steps": backward_steps,
        "Python per step": python_per_step,
        "recurrent products": recurrent_products,
        "block products": block_products,
        "whole products": whole_products,
        "loops": loops,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("size", type=int, nargs=4, metavar=("N", "T", "D", "H"))
    parser.add_argument("dtype", choices=("float32", "float64"))
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    N, T, D, H = args.size
    threads = args.threads or numpy_blas().get("num_threads") or 1
    problem = make_problem((N, T, D, H), np.dtype(args.dtype).type)
    Wx, Wh, _ = core_weights(problem.module)
    contenders = [core_contender(problem), floor_contender(problem)]
    contenders += [
        Contender(name, run) for name, run in parts(problem.x, problem.G, Wx, Wh).items()
    ]
    with threadpool_limits(limits=threads, user_api="blas"):
        torch.set_num_threads(threads)
        for contender in contenders:
            contender.run()
        samples = time_interleaved(contenders, args.rounds, 1)
    ms = {name: 1e3 * statistics.median(times) for name, times in samples.items()}
    ms["first touch"] = ms.pop("fresh buffers") - ms.pop("refilled buffers")
    steps = ms["forward steps"] + ms["backward steps"]
    ms["handoff"] = ms.pop("loops") - ms.pop("recurrent products") - steps
    ms["blocks"] = ms.pop("block products") - ms.pop("whole products")
    above = ms["core"] - ms["floor"]
    accounted = sum(value for name, value in ms.items() if name not in NOT_SUMMED)
    lines = [
        (
            f"{args.dtype} (N, T, D, H) = {(N, T, D, H)}, {threads} threads, "
            f"medians of {args.rounds} interleaved rounds"
        ),
        "",
        "| part | ms | share of core - floor |",
        "|---|--:|--:|",
        f"| core | {ms['core']:.1f} | |",
        f"| floor | {ms['floor']:.1f} | |",
        f"| core - floor | {above:.1f} | 100% |",
    ]
    lines += [
        f"| {name} | {value:.1f} | {value / above:.0%} |"
        for name, value in ms.items()
        if name not in ("core", "floor")
    ]
    lines.append(f"| sum of the parts | {accounted:.1f} | {accounted / above:.0%} |")
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
