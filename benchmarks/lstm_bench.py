"""Forward+backward of the LSTM core against ``torch.nn.LSTM`` and its own matrix products, CPU.

Every contender does the same work: one layer, batch-first, identical weights, an upstream
gradient on every hidden state and on the final cell state.

- ``floor``: the matrix products alone, at their shapes, into preallocated outputs:
  ``x @ Wx`` over all ``T * N`` rows, ``T`` times ``h @ Wh``, ``T`` times ``da @ Wh.T``, and
  ``x.T @ da``, ``h.T @ da``, ``da @ Wx.T`` over all rows. ``core / floor`` is what ours adds.
- ``core``: ``lstm_forward`` then ``lstm_backward``.
- ``torch``: ``module(x, (h0, c0))`` then autograd of ``(output * G).sum() + (c_n * GC).sum()``.

They take turns in one process, with the same thread count (threadpoolctl for NumPy's BLAS,
``torch.set_num_threads``), each round starting one place later, and a pause before each turn
(idle BLAS threads spin for about 0.1 s). The ratios are the median of per-round ratios.

Usage: ``python benchmarks/lstm_bench.py [--threads 1] [--rounds 5] [--sizes 64,200,128,512 ...]``.
A benchmark measures; nothing here is a timed test.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np
import torch
from threadpoolctl import threadpool_limits

import reference_rnn as rr

GAP_SECONDS = 0.2


def contenders(N: int, T: int, D: int, H: int, dtype: str) -> dict[str, Callable[[], object]]:
    rng = np.random.default_rng(0)
    k = 1 / np.sqrt(H)
    x = rng.standard_normal((N, T, D)).astype(dtype)
    h0, c0 = (rng.uniform(-1, 1, (N, H)).astype(dtype) for _ in range(2))
    Wx = rng.uniform(-k, k, (D, 4 * H)).astype(dtype)
    Wh = rng.uniform(-k, k, (H, 4 * H)).astype(dtype)
    b = rng.uniform(-k, k, 4 * H).astype(dtype)
    G = rng.standard_normal((N, T, H)).astype(dtype)
    GC = rng.standard_normal((N, H)).astype(dtype)

    def core() -> object:
        _, _, cache = rr.lstm_forward(x, h0, Wx, Wh, b, c0)
        return rr.lstm_backward(G, GC, cache)

    module = torch.nn.LSTM(D, H, batch_first=True, dtype=getattr(torch, dtype))
    with torch.no_grad():
        module.weight_ih_l0.copy_(torch.from_numpy(Wx.T))
        module.weight_hh_l0.copy_(torch.from_numpy(Wh.T))
        module.bias_ih_l0.copy_(torch.from_numpy(b))
        module.bias_hh_l0.zero_()
    xt = torch.from_numpy(x).requires_grad_()
    state = (
        torch.from_numpy(h0[None]).requires_grad_(),
        torch.from_numpy(c0[None]).requires_grad_(),
    )
    Gt, GCt = torch.from_numpy(G), torch.from_numpy(GC[None])

    def torch_lstm() -> object:
        module.zero_grad(set_to_none=True)
        output, (_, c_n) = module(xt, state)
        ((output * Gt).sum() + (c_n * GCt).sum()).backward()
        return output

    rows = T * N
    x1 = rng.standard_normal((rows, D + 1)).astype(dtype)
    Wx1 = rng.standard_normal((D + 1, 4 * H)).astype(dtype)
    proj = np.empty((rows, 4 * H), dtype)
    h = rng.standard_normal((N, H)).astype(dtype)
    step = np.empty((N, 4 * H), dtype)
    da = rng.standard_normal((rows, 4 * H)).astype(dtype)
    Wh_T = np.ascontiguousarray(Wh.T)
    back = np.empty((N, H), dtype)
    hs = rng.standard_normal((rows, H)).astype(dtype)
    dx = np.empty((rows, D + 1), dtype)

    def floor() -> object:
        np.matmul(x1, Wx1, out=proj)
        for t in range(T):
            np.matmul(h, Wh, out=step)
            np.matmul(da[t * N : (t + 1) * N], Wh_T, out=back)
        dWx = x1.T @ da
        dWh = hs.T @ da
        np.matmul(da, Wx1.T, out=dx)
        return dWx, dWh

    return {"floor": floor, "core": core, "torch": torch_lstm}


def measure(sizes: tuple[int, int, int, int], dtype: str, rounds: int) -> dict[str, float]:
    runs = contenders(*sizes, dtype)
    names = list(runs)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds + 1):  # round 0 warms up
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            time.sleep(GAP_SECONDS)
            start = time.perf_counter()
            runs[name]()
            if r:
                times[name].append(time.perf_counter() - start)
    ratios = {
        "core / torch": statistics.median(
            c / t for c, t in zip(times["core"], times["torch"], strict=True)
        ),
        "core / floor": statistics.median(
            c / f for c, f in zip(times["core"], times["floor"], strict=True)
        ),
    }
    return {f"{name} s": statistics.median(t) for name, t in times.items()} | ratios


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--dtypes", default="float64,float32")
    parser.add_argument("--sizes", nargs="*", default=["64,200,128,512", "64,1000,128,256"])
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = sys.stdout
    out.write("| N, T, D, H | dtype | floor s | core s | torch s | core / torch | core / floor |\n")
    out.write("|---|---|---|---|---|---|---|\n")
    with threadpool_limits(limits=args.threads, user_api="blas"):
        for size in args.sizes:
            shape = tuple(int(v) for v in size.split(","))
            for dtype in args.dtypes.split(","):
                r = measure(shape, dtype, args.rounds)  # type: ignore[arg-type]
                row = [shape, dtype, r["floor s"], r["core s"], r["torch s"]]
                row += [r["core / torch"], r["core / floor"]]
                out.write("| " + " | ".join(_cell(v) for v in row) + " |\n")
                out.flush()
    sys.stderr.write(f"threads {args.threads}, rounds {args.rounds}, torch {torch.__version__}\n")


def _cell(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


if __name__ == "__main__":
    main()
