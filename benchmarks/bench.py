"""Forward+backward speed and memory of ``reference_rnn`` against ``torch.nn.RNN`` on the CPU.

Three contenders run the same work, one layer, tanh, batch-first, identical weights:

- ``core``:  ``rnn_forward`` then ``rnn_backward`` (the functional core);
- ``RNN``:   ``reference_rnn.RNN.from_torch(module)``, ``rnn(x, hx)`` then ``rnn.backward(G)``;
- ``torch``: ``module(x, hx)`` then ``output.backward(G)``, gradients for inputs and weights.

They take turns (core, RNN, torch, core, RNN, torch, ...) in one process with the same thread
count, so that drift in clock speed or machine load hits all three alike; each reports the median
of its runs. A short pause before every turn lets the previous contender's idle threads stop
spinning (see ``GAP_SECONDS``), so each is timed as it runs on its own.

Per row it also reports the achieved GFLOP/s (forward+backward is ``6 * N * T * (D * H + H * H)``
flops) as a fraction of numpy's large-GEMM GFLOP/s, measured just before the row; and the peak
extra memory of one forward+backward of ours (tracemalloc) as a multiple of the
``N * T * H * itemsize`` floor that storing the hidden states alone costs.

Usage, from the repository root::

    python benchmarks/bench.py                # full run, a few minutes
    python benchmarks/bench.py --quick        # the two small sizes, seconds: a smoke test
    python benchmarks/bench.py --json out.json --threads 1

Markdown goes to stdout, progress to stderr, the JSON to ``--json`` (default ``bench.json``).
Targets are printed next to the numbers, never enforced: a benchmark measures.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from threadpoolctl import threadpool_info, threadpool_limits

# Measure the checkout this file lives in, not some other installed copy of the package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import reference_rnn as rr

Size = tuple[int, int, int, int]  # (N, T, D, H)
Array = NDArray[Any]

SIZES: tuple[Size, ...] = (
    (1, 3, 2, 4),
    (32, 100, 64, 128),
    (64, 200, 128, 512),
    (64, 1000, 128, 256),
)
DTYPES = (np.float32, np.float64)
TORCH_DTYPES = {"float32": torch.float32, "float64": torch.float64}
# (rounds, timed runs per turn) per size, so the full run stays near three minutes on a 2-core
# machine: the two large sizes cost 25 and 38 GFLOP per forward+backward, 0.3-1.3 s per contender
# there, while the small ones need many runs per turn to outweigh the pause before each turn.
SCHEDULE = {SIZES[0]: (10, 50), SIZES[1]: (10, 10), SIZES[2]: (15, 1), SIZES[3]: (15, 1)}
QUICK_SCHEDULE = {SIZES[0]: (3, 20), SIZES[1]: (3, 5)}
# After a call, OpenBLAS's threads busy-wait about 2**28 cycles (~0.1 s) and libgomp's (torch's)
# a few ms before they sleep. On a 2-core machine those spinning threads take the cores from
# whoever runs next: measured here, torch ran 2x slower right after numpy, so every turn waits.
GAP_SECONDS = 0.2
GEMM_N = 2048
GEMM_REPEATS, QUICK_GEMM_REPEATS = 7, 3
SEED = 0

TARGET_RATIO = 0.8  # our median time / torch's
TARGET_GEMM_FRACTION = 0.70  # at the two largest sizes
TARGET_MEMORY_MULTIPLE = 3.0  # peak extra bytes / (N * T * H * itemsize)
CONTENDERS = ("core", "RNN", "torch")
OURS = ("core", "RNN")


@dataclass(frozen=True)
class Problem:
    """One row's inputs; ``module`` holds the weights, ``h0`` is ``(1, N, H)`` as torch wants it."""

    module: torch.nn.RNN
    x: Array  # (N, T, D)
    h0: Array  # (1, N, H)
    G: Array  # (N, T, H), dL/dh at every step


def _nothing() -> None:
    pass


@dataclass(frozen=True)
class Contender:
    name: str
    run: Callable[[], object]  # one forward+backward; returns the hidden states
    reset: Callable[[], None] = _nothing  # untimed, before each run


@dataclass(frozen=True)
class Row:
    dtype: str
    N: int
    T: int
    D: int
    H: int
    gflop: float
    rounds: int
    runs_per_turn: int
    median_seconds: dict[str, float]
    quartile_seconds: dict[str, tuple[float, float]]  # first and third: the spread of the runs
    ratio_to_torch: dict[str, float]
    gflops: dict[str, float]
    gemm_gflops: float  # numpy's 2048x2048 matmul, measured just before this row
    gemm_fraction: dict[str, float]
    peak_bytes: dict[str, int]
    floor_bytes: int
    memory_multiple: dict[str, float]
    max_abs_diff_h: float  # ours against torch, to show that both did the same work


def log(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def fwd_bwd_flops(N: int, T: int, D: int, H: int) -> int:
    # Forward: x @ Wx and h @ Wh, 2 flops per multiply-add. Backward: dWx, dWh, dx and dh,
    # twice that.
    return 6 * N * T * (D * H + H * H)


def numpy_blas() -> dict[str, Any]:
    """threadpoolctl's record of the BLAS numpy calls (torch's MKL is linked in and not listed)."""
    blas = [info for info in threadpool_info() if info["user_api"] == "blas"]
    ours = [info for info in blas if "numpy" in info["filepath"]] or blas
    if not ours:
        return {}
    keys = ("internal_api", "architecture", "version", "num_threads", "threading_layer", "filepath")
    return {key: ours[0].get(key) for key in keys}


def torch_info() -> dict[str, Any]:
    return {
        "version": torch.__version__,
        "num_threads": torch.get_num_threads(),
        "mkl": torch.backends.mkl.is_available(),
        "mkldnn": torch.backends.mkldnn.is_available(),
    }


def median_seconds(run: Callable[[], object], repeats: int) -> float:
    run()  # warm-up: first-touch page faults, lazy initialisation, waking the BLAS threads
    times: list[float] = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def gemm_gflops(dtype: type[np.floating[Any]], repeats: int) -> float:
    """numpy's large square matmul, the machine's practical ceiling for dense products."""
    rng = np.random.default_rng(SEED)
    a, b = (rng.standard_normal((GEMM_N, GEMM_N)).astype(dtype) for _ in range(2))
    out = np.empty_like(a)
    seconds = median_seconds(lambda: np.matmul(a, b, out=out), repeats)
    return 2 * GEMM_N**3 / seconds / 1e9


def make_problem(size: Size, dtype: type[np.floating[Any]]) -> Problem:
    """torch's default init U(-1/sqrt(H), 1/sqrt(H)) from a fixed seed; random inputs."""
    N, T, D, H = size
    torch.manual_seed(SEED)
    module = torch.nn.RNN(D, H, batch_first=True, dtype=TORCH_DTYPES[np.dtype(dtype).name])
    rng = np.random.default_rng(SEED)
    x = rng.standard_normal((N, T, D)).astype(dtype)
    h0 = rng.uniform(-1, 1, (1, N, H)).astype(dtype)
    G = rng.standard_normal((N, T, H)).astype(dtype)
    return Problem(module=module, x=x, h0=h0, G=G)


def core_weights(module: torch.nn.RNN) -> tuple[Array, Array, Array]:
    """torch's layout is the transpose, and its two biases act as one."""
    p = {name: t.detach().numpy() for name, t in module.named_parameters()}
    Wx = np.ascontiguousarray(p["weight_ih_l0"].T)
    Wh = np.ascontiguousarray(p["weight_hh_l0"].T)
    return Wx, Wh, p["bias_ih_l0"] + p["bias_hh_l0"]


def core_contender(problem: Problem) -> Contender:
    Wx, Wh, b = core_weights(problem.module)
    h0 = problem.h0[0]

    def run() -> Array:
        h, cache = rr.rnn_forward(problem.x, h0, Wx, Wh, b)
        rr.rnn_backward(problem.G, cache)
        return h

    return Contender("core", run)


def rnn_contender(problem: Problem) -> Contender:
    rnn = rr.RNN.from_torch(problem.module)

    def run() -> Array:
        output, _ = rnn(problem.x, problem.h0)
        rnn.backward(problem.G)
        return output

    return Contender("RNN", run)


def torch_contender(problem: Problem) -> Contender:
    module = problem.module
    x = torch.from_numpy(problem.x).requires_grad_()
    h0 = torch.from_numpy(problem.h0).requires_grad_()
    G = torch.from_numpy(problem.G)

    def reset() -> None:
        # Fresh gradients each run, as ours returns: backward then writes instead of accumulating.
        module.zero_grad(set_to_none=True)
        x.grad = h0.grad = None

    def run() -> Array:
        output, _ = module(x, h0)
        output.backward(G)
        return np.asarray(output.detach().numpy())

    return Contender("torch", run, reset)


def warm_up(contenders: Sequence[Contender]) -> dict[str, Array]:
    """One untimed run each, returning the hidden states each computed.

    It pays for first-touch page faults, lazy initialisation and waking the BLAS threads before
    the clock runs; the outputs show whether all did the same work.
    """
    outputs: dict[str, Array] = {}
    for contender in contenders:
        contender.reset()
        outputs[contender.name] = np.asarray(contender.run())
    return outputs


def time_interleaved(
    contenders: Sequence[Contender], rounds: int, runs_per_turn: int
) -> dict[str, list[float]]:
    """Seconds of every run of each contender, the contenders taking turns in every round."""
    times: dict[str, list[float]] = {contender.name: [] for contender in contenders}
    for _ in range(rounds):
        for contender in contenders:
            time.sleep(GAP_SECONDS)
            for _ in range(runs_per_turn):
                times[contender.name].append(time_once(contender))
    return times


def time_once(contender: Contender) -> float:
    contender.reset()
    # As timeit does: a collection of someone else's garbage is not this run's cost.
    gc.disable()
    try:
        start = time.perf_counter()
        contender.run()
        return time.perf_counter() - start
    finally:
        gc.enable()


def quartile_pair(samples: Sequence[float]) -> tuple[float, float]:
    if len(samples) < 2:
        return samples[0], samples[0]
    q1, _, q3 = statistics.quantiles(samples, n=4)
    return q1, q3


def peak_traced_bytes(run: Callable[[], object]) -> int:
    """Peak bytes allocated during ``run`` (numpy reports its buffers to tracemalloc).

    Whatever exists before the call, inputs and weights included, is not counted.
    """
    gc.collect()
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def bench_row(
    size: Size,
    dtype: type[np.floating[Any]],
    schedule: tuple[int, int],
    gemm_repeats: int,
    index: str,
) -> Row:
    N, T, D, H = size
    name = np.dtype(dtype).name
    # The ceiling is measured next to every row: a neighbour's burst of load on a shared machine
    # then skews one row, visibly, not every fraction of a dtype.
    gemm = gemm_gflops(dtype, gemm_repeats)
    problem = make_problem(size, dtype)
    # Built fresh for the memory measurement, so no cache of an earlier run is replaced inside it.
    peak = {
        "core": peak_traced_bytes(core_contender(problem).run),
        "RNN": peak_traced_bytes(rnn_contender(problem).run),
    }
    contenders = (core_contender(problem), rnn_contender(problem), torch_contender(problem))
    rounds, runs_per_turn = schedule
    log(f"{index} {name} (N, T, D, H) = {size}: {rounds} rounds of {runs_per_turn} runs each")
    outputs = warm_up(contenders)
    diff = max(float(np.abs(outputs[who] - outputs["torch"]).max()) for who in OURS)
    samples = time_interleaved(contenders, rounds, runs_per_turn)
    seconds = {who: statistics.median(samples[who]) for who in CONTENDERS}
    quartiles = {who: quartile_pair(samples[who]) for who in CONTENDERS}

    flops = fwd_bwd_flops(N, T, D, H)
    gflops = {who: flops / seconds[who] / 1e9 for who in CONTENDERS}
    floor = N * T * H * np.dtype(dtype).itemsize
    row = Row(
        dtype=name,
        N=N,
        T=T,
        D=D,
        H=H,
        gflop=flops / 1e9,
        rounds=rounds,
        runs_per_turn=runs_per_turn,
        median_seconds=seconds,
        quartile_seconds=quartiles,
        ratio_to_torch={who: seconds[who] / seconds["torch"] for who in OURS},
        gflops=gflops,
        gemm_gflops=gemm,
        gemm_fraction={who: gflops[who] / gemm for who in CONTENDERS},
        peak_bytes=peak,
        floor_bytes=floor,
        memory_multiple={who: peak[who] / floor for who in OURS},
        max_abs_diff_h=diff,
    )
    ms = ", ".join(f"{who} {1e3 * seconds[who]:.3f} ms" for who in CONTENDERS)
    log(f"{index}   {ms}; numpy GEMM {gemm:.1f} GFLOP/s")
    return row


def markdown(report: dict[str, Any], rows: Sequence[Row]) -> str:
    blas, tinfo, load = report["blas"], report["torch"], report["load_average_1min"]
    backends = ", ".join(name for name in ("mkl", "mkldnn") if tinfo[name]) or "no MKL, no oneDNN"
    lines = [
        (
            f"numpy {report['numpy']}, BLAS: {blas.get('internal_api')} {blas.get('version')} "
            f"({blas.get('architecture')}), {blas.get('num_threads')} threads; "
            f"torch {tinfo['version']} ({backends}), {tinfo['num_threads']} threads; "
            f"{report['machine']} with {report['cpus']} CPUs, Python {report['python']}."
        ),
        "",
        (
            f"% GEMM: achieved GFLOP/s over numpy's {GEMM_N}x{GEMM_N} matmul GFLOP/s (GEMM column, "
            f"median of {report['gemm_repeats']}). Load average (1 min) before and after: "
            f"{load['before']:.2f}, {load['after']:.2f}; other busy processes skew the numbers."
        ),
        "",
        (
            f"Targets, reported and not enforced: ours/torch <= {TARGET_RATIO}; "
            f"% of GEMM >= {TARGET_GEMM_FRACTION:.0%} at the two largest sizes; "
            f"memory <= {TARGET_MEMORY_MULTIPLE:g}x the N·T·H·itemsize floor."
        ),
        "",
        (
            "| dtype | N, T, D, H | GFLOP | GEMM GFLOP/s | torch ms | core ms "
            "| core/torch (<= 0.8) | RNN ms | RNN/torch (<= 0.8) "
            "| core % GEMM (>= 70) | RNN % GEMM | torch % GEMM "
            "| core mem (<= 3x) | RNN mem (<= 3x) |"
        ),
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for row in rows:
        ms = {who: f"{1e3 * row.median_seconds[who]:.3f}" for who in CONTENDERS}
        pct = {who: f"{100 * row.gemm_fraction[who]:.1f}" for who in CONTENDERS}
        lines.append(
            f"| {row.dtype} | {row.N}, {row.T}, {row.D}, {row.H} | {row.gflop:.3g} "
            f"| {row.gemm_gflops:.1f} "
            f"| {ms['torch']} | {ms['core']} | {row.ratio_to_torch['core']:.2f} "
            f"| {ms['RNN']} | {row.ratio_to_torch['RNN']:.2f} "
            f"| {pct['core']} | {pct['RNN']} | {pct['torch']} "
            f"| {row.memory_multiple['core']:.2f}x | {row.memory_multiple['RNN']:.2f}x |"
        )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="the two small sizes, few runs")
    parser.add_argument("--json", type=Path, default=Path("bench.json"), help="JSON output path")
    parser.add_argument(
        "--threads", type=int, default=None, help="BLAS and torch threads (default: numpy's)"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    sizes = SIZES[:2] if args.quick else SIZES
    schedule = QUICK_SCHEDULE if args.quick else SCHEDULE
    threads = args.threads or numpy_blas().get("num_threads") or 1
    load_before = os.getloadavg()[0]
    with threadpool_limits(limits=threads, user_api="blas"):
        # Same thread count on both sides, or the comparison measures the thread pools.
        torch.set_num_threads(threads)
        blas, tinfo = numpy_blas(), torch_info()
        log(f"BLAS {blas.get('internal_api')} {blas.get('version')}, {threads} threads")
        gemm_repeats = QUICK_GEMM_REPEATS if args.quick else GEMM_REPEATS
        rows: list[Row] = []
        jobs = [(dtype, size) for dtype in DTYPES for size in sizes]
        for i, (dtype, size) in enumerate(jobs, start=1):
            rows.append(bench_row(size, dtype, schedule[size], gemm_repeats, f"[{i}/{len(jobs)}]"))

    report: dict[str, Any] = {
        "quick": args.quick,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": blas,
        "torch": tinfo,
        "threads": threads,
        "load_average_1min": {"before": load_before, "after": os.getloadavg()[0]},
        "gemm_size": GEMM_N,
        "gemm_repeats": gemm_repeats,
        "targets": {
            "ratio_to_torch_max": TARGET_RATIO,
            "gemm_fraction_min_at_largest_sizes": TARGET_GEMM_FRACTION,
            "memory_multiple_max": TARGET_MEMORY_MULTIPLE,
        },
    }
    sys.stdout.write(markdown(report, rows) + "\n")
    report["rows"] = [asdict(row) for row in rows]
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    log(f"wrote {args.json}")


if __name__ == "__main__":
    main()
