"""Forward+backward speed of the GRU core against ``torch.nn.GRU``, CPU, same threads.

Both run the same work: one layer, batch-first, identical weights, an upstream gradient at every
step; ours is ``gru_forward`` then ``gru_backward`` (``reset_after=True``, torch's equations, and
``reset_after=False``), torch's is ``module(x, h0)`` then ``output.backward(G)``. They take turns in
one process, each round starting with the other, and the result is the median of the per-round
ratios ``ours / torch`` (below 1: ours is faster). Both on the same threads: ``torch.set_num_threads``
and, for NumPy's BLAS, threadpoolctl (without it NumPy's BLAS takes every core whatever
``--threads`` says, and on a busy machine its spinning threads made ours 5x torch's on one
thread). A benchmark measures: nothing is enforced.

Usage, from the repository root::

    python benchmarks/gru.py                 # the LSTM issue's sizes, both dtypes
    python benchmarks/gru.py --quick         # small sizes, seconds
    python benchmarks/gru.py --threads 1 --rounds 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np
import torch
from threadpoolctl import threadpool_limits

import reference_rnn as rr

#: (N, T, D, H): the LSTM issue's sizes, and small ones for a smoke test
SIZES = [(64, 200, 128, 512), (64, 1000, 128, 256)]
QUICK = [(16, 50, 32, 64), (32, 100, 64, 128)]


def _arrays(N, T, D, H, dtype):
    rng = np.random.default_rng(0)
    k = 1 / np.sqrt(H)
    return {
        "x": rng.standard_normal((N, T, D)).astype(dtype),
        "h0": rng.uniform(-1, 1, (N, H)).astype(dtype),
        "Wx": rng.uniform(-k, k, (D, 3 * H)).astype(dtype),
        "Wh": rng.uniform(-k, k, (H, 3 * H)).astype(dtype),
        "b": rng.uniform(-k, k, 3 * H).astype(dtype),
        "bh": rng.uniform(-k, k, 3 * H).astype(dtype),
        "dh": rng.standard_normal((N, T, H)).astype(dtype),
    }


def _ours(a, reset_after):
    def run():
        _, cache = rr.gru_forward(
            a["x"], a["h0"], a["Wx"], a["Wh"], a["b"], a["bh"], reset_after=reset_after
        )
        rr.gru_backward(a["dh"], cache)

    return run


def _torch(a):
    D, H = a["Wx"].shape[0], a["Wh"].shape[0]
    module = torch.nn.GRU(D, H, batch_first=True, dtype=getattr(torch, a["x"].dtype.name))
    with torch.no_grad():
        module.weight_ih_l0.copy_(torch.from_numpy(a["Wx"].T.copy()))
        module.weight_hh_l0.copy_(torch.from_numpy(a["Wh"].T.copy()))
        module.bias_ih_l0.copy_(torch.from_numpy(a["b"]))
        module.bias_hh_l0.copy_(torch.from_numpy(a["bh"]))
    x = torch.from_numpy(a["x"]).requires_grad_()
    h0 = torch.from_numpy(a["h0"][None]).requires_grad_()
    G = torch.from_numpy(a["dh"])

    def run():
        module.zero_grad(set_to_none=True)
        output, _ = module(x, h0)
        output.backward(G)

    return run


def _seconds(run):
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def measure(size, dtype, rounds):
    """The median per-round ratio ours / torch for each convention, and the medians in seconds."""
    a = _arrays(*size, dtype)
    contenders = {"torch": _torch(a), "after": _ours(a, True), "before": _ours(a, False)}
    for run in contenders.values():  # warm up: first-call costs off the clock
        run()
    times = {name: [] for name in contenders}
    order = list(contenders)
    for i in range(rounds):
        for name in order[i % 3 :] + order[: i % 3]:  # each round starts one place later
            times[name].append(_seconds(contenders[name]))
    ratios = {
        name: statistics.median(t / r for t, r in zip(times[name], times["torch"], strict=True))
        for name in ("after", "before")
    }
    return ratios, {name: statistics.median(t) for name, t in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    out = sys.stdout
    out.write(f"torch {torch.__version__}, numpy {np.__version__}, {args.threads} thread(s)\n")
    out.write(
        "| (N, T, D, H) | dtype | torch s | ours/torch reset_after | ours/torch reset_before |\n"
    )
    out.write("|---|---|---|---|---|\n")
    with threadpool_limits(limits=args.threads, user_api="blas"):
        for size in QUICK if args.quick else SIZES:
            for dtype in ("float64", "float32"):
                ratios, medians = measure(size, dtype, args.rounds)
                out.write(
                    f"| {size} | {dtype} | {medians['torch']:.3f} | {ratios['after']:.2f} | "
                    f"{ratios['before']:.2f} |\n"
                )
                out.flush()


if __name__ == "__main__":
    main()
