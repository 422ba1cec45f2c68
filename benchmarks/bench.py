"""Forward+backward speed and memory of ``reference_rnn`` against its own floor and its peers, CPU.

Every contender runs the same work: one layer, tanh, batch-first, identical weights.

- ``floor``: the matrix products the algorithm must do, alone, at their shapes, into preallocated
  outputs: ``x @ Wx`` over all ``T * N`` rows, ``T`` times ``h @ Wh``, ``x.T @ da``, ``da @ Wx.T``,
  ``h.T @ da`` and ``T`` times ``da @ Wh.T``. No design built on these products can be faster on
  this machine; ``core / floor`` is what ours adds to them.
- ``core``: ``rnn_forward`` then ``rnn_backward`` (the functional core); ``core fwd`` is
  ``rnn_forward`` alone, for the forward-only peer.
- ``SimpleRNN``: the exercise's layer, ``forward(x, h0)`` then ``backward(G)``, all states returned.
- ``RNN``: ``reference_rnn.RNN.from_torch(module)``, ``rnn(x, hx)`` then ``rnn.backward(G)``.
- peers: ``torch`` (``module(x, hx)`` then ``output.backward(G)``); ``JAX`` (the recurrence through
  ``jax.lax.scan``, forward and ``jax.vjp`` compiled together by ``jax.jit``, built here from the
  raw arrays); ``onnxruntime`` (forward only, float32: its RNN kernel has no float64; the model is
  ``RNN.to_onnx()``). A peer whose package is absent is skipped and the report says so.

They take turns (floor, core, ..., torch, JAX, then core, ..., JAX, floor, ...: each round starts
one place later) in one process with the same thread count, so that drift in clock speed or
machine load, and what the previous contender leaves behind, hit all alike; each reports the median
of its runs, and every ratio is of two medians from the same rounds. What a run made is freed off
the clock just before that contender's next run, as a caller that keeps its results until the next
call would (see ``time_interleaved``). A short pause before every turn lets the previous
contender's idle threads stop spinning (see ``GAP_SECONDS``), so each is timed as it runs on its
own.

Per row it also reports the peak extra memory of one forward+backward of ours (tracemalloc) as a
multiple of the ``N * T * H * itemsize`` floor that storing the hidden states alone costs.

Usage, from the repository root::

    python benchmarks/bench.py                # full run, several minutes
    python benchmarks/bench.py --quick        # the two small sizes, seconds: a smoke test
    python benchmarks/bench.py --json out.json --threads 1

Markdown goes to stdout, progress to stderr, the JSON to ``--json`` (default ``bench.json``).
Targets are printed next to the numbers, never enforced: a benchmark measures.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import importlib.util
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
from types import ModuleType
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
# (rounds, timed runs per turn) per size. The two large sizes cost 25 and 38 GFLOP per
# forward+backward, 0.2-1.3 s per contender there, while the small ones need many runs per turn
# to outweigh the pause before each turn. On a shared 2-core machine single runs at the large
# sizes spread from 0.8 to 2.1 of the floor: with 9 rounds, eight medians of the same code at
# (64, 1000, 128, 256) float64 ranged over 1.11-1.43 of it, hence 25 rounds there.
SCHEDULE = {SIZES[0]: (10, 50), SIZES[1]: (10, 10), SIZES[2]: (25, 1), SIZES[3]: (25, 1)}
QUICK_SCHEDULE = {SIZES[0]: (3, 20), SIZES[1]: (3, 5)}
# After a call, OpenBLAS's threads busy-wait about 2**28 cycles (~0.1 s) and libgomp's (torch's)
# a few ms before they sleep. On a 2-core machine those spinning threads take the cores from
# whoever runs next: measured here, torch ran 2x slower right after numpy, so every turn waits.
GAP_SECONDS = 0.2
SEED = 0

TARGET_FLOOR = {SIZES[1]: 1.4, SIZES[2]: 1.2, SIZES[3]: 1.2}  # core / floor at most
TARGET_TORCH = 1.0  # core / torch at most, at every size
TARGET_WRAPPERS = 1.05  # SimpleRNN / core and RNN / core at most
TARGET_MEMORY_MULTIPLE = 3.0  # peak extra bytes / (N * T * H * itemsize)
OURS = ("core", "SimpleRNN", "RNN")
FWD_BWD_PEERS = ("torch", "JAX")
MEMORY = ("core", "RNN")


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
    # One run. It returns what it made, the hidden states (N, T, H) first, or None; that is
    # freed off the clock, just before the contender's next run (time_interleaved).
    run: Callable[[], tuple[Array, ...] | None]
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
    core_to_floor: float
    to_core: dict[str, float]  # SimpleRNN and RNN over core
    core_to_peer: dict[str, float]  # core over torch, JAX and the fastest of them
    fwd_to_onnxruntime: float | None
    peak_bytes: dict[str, int]
    floor_bytes: int
    memory_multiple: dict[str, float]
    max_abs_diff_h: dict[str, float]  # each against torch, to show that all did the same work


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


def optional(name: str) -> ModuleType | None:
    """A peer's package, or None where it is not installed."""
    return importlib.import_module(name) if importlib.util.find_spec(name) else None


def import_jax(threads: int) -> ModuleType | None:
    if importlib.util.find_spec("jax") is None:
        return None
    if threads == 1:
        # XLA's CPU client sizes its own thread pool; this is the documented way to one thread.
        flags = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {flags}".strip()
    jax = importlib.import_module("jax")
    jax.config.update("jax_enable_x64", True)  # float64 stays float64; float32 stays float32
    return jax


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


def floor_contender(problem: Problem) -> Contender:
    """The products of one forward+backward, time-major as the core lays them out.

    Their inputs are random (a product's time does not depend on its values) and their outputs
    preallocated: page faults are the core's cost, not the products'.
    """
    N, T, D = problem.x.shape
    Wx, Wh, _ = core_weights(problem.module)
    H = Wh.shape[0]
    dtype = problem.x.dtype
    rng = np.random.default_rng(SEED)
    x_rows = rng.standard_normal((T * N, D)).astype(dtype)  # (T, N, D) -> (T * N, D)
    h = rng.uniform(-1, 1, (T + 1, N, H)).astype(dtype)
    da = rng.standard_normal((T, N, H)).astype(dtype)
    h_rows, da_rows = h[:-1].reshape(T * N, H), da.reshape(T * N, H)
    projection, step = np.empty((T * N, H), dtype), np.empty((N, H), dtype)
    dWx, dWh, dx = np.empty((D, H), dtype), np.empty((H, H), dtype), np.empty((T * N, D), dtype)

    def run() -> None:
        np.matmul(x_rows, Wx, out=projection)
        for t in range(T):
            np.matmul(h[t], Wh, out=step)
        np.matmul(x_rows.T, da_rows, out=dWx)
        np.matmul(da_rows, Wx.T, out=dx)
        np.matmul(h_rows.T, da_rows, out=dWh)
        for t in range(T):
            np.matmul(da[t], Wh.T, out=step)

    return Contender("floor", run)


def cache_arrays(cache: rr.RNNCache) -> tuple[Array, ...]:
    return cache.x1, cache.h, cache.Wx, cache.Wh


def core_contender(problem: Problem) -> Contender:
    Wx, Wh, b = core_weights(problem.module)
    h0 = problem.h0[0]

    def run() -> tuple[Array, ...]:
        h, cache = rr.rnn_forward(problem.x, h0, Wx, Wh, b)
        return h, *cache_arrays(cache), *rr.rnn_backward(problem.G, cache)

    return Contender("core", run)


def core_forward_contender(problem: Problem) -> Contender:
    Wx, Wh, b = core_weights(problem.module)
    h0 = problem.h0[0]

    def run() -> tuple[Array, ...]:
        h, cache = rr.rnn_forward(problem.x, h0, Wx, Wh, b)
        return h, *cache_arrays(cache)

    return Contender("core fwd", run)


def simple_rnn_contender(problem: Problem) -> Contender:
    layer = rr.SimpleRNN(*core_weights(problem.module), return_sequences=True)
    h0 = problem.h0[0]

    def reset() -> None:
        layer.forward(problem.x[:, :1], h0)  # frees the last run's cache, off the clock

    def run() -> tuple[Array, ...]:
        h = layer.forward(problem.x, h0)
        return h, layer.backward(problem.G)

    return Contender("SimpleRNN", run, reset)


def rnn_contender(problem: Problem) -> Contender:
    rnn = rr.RNN.from_torch(problem.module)

    def reset() -> None:
        rnn(problem.x[:, :1], problem.h0)  # frees the last run's cache, off the clock

    def run() -> tuple[Array, ...]:
        output, h_n = rnn(problem.x, problem.h0)
        return output, h_n, *rnn.backward(problem.G)

    return Contender("RNN", run, reset)


def torch_contender(problem: Problem) -> Contender:
    module = problem.module
    x = torch.from_numpy(problem.x).requires_grad_()
    h0 = torch.from_numpy(problem.h0).requires_grad_()
    G = torch.from_numpy(problem.G)

    def reset() -> None:
        # Fresh gradients each run, as ours returns: backward then writes instead of accumulating.
        module.zero_grad(set_to_none=True)
        x.grad = h0.grad = None

    def run() -> tuple[Array, ...]:
        output, _ = module(x, h0)
        output.backward(G)
        return (np.asarray(output.detach().numpy()),)

    return Contender("torch", run, reset)


def jax_contender(problem: Problem, jax: ModuleType) -> Contender:
    """The recurrence in jax.numpy from torch's equations; gradients of x, h0, Wx, Wh and b.

    The input projection is hoisted out of the scan, as ours is, so JAX gets the same algorithm.
    """
    jnp = jax.numpy

    def forward(x: Any, h0: Any, Wx: Any, Wh: Any, b: Any) -> Any:
        projected = jnp.swapaxes(x @ Wx + b, 0, 1)  # (N, T, H) -> (T, N, H) for the scan

        def step(h: Any, p_t: Any) -> tuple[Any, Any]:
            h = jnp.tanh(p_t + h @ Wh)
            return h, h

        _, h = jax.lax.scan(step, h0, projected)
        return jnp.swapaxes(h, 0, 1)  # (T, N, H) -> (N, T, H)

    @jax.jit
    def forward_backward(x: Any, h0: Any, Wx: Any, Wh: Any, b: Any, G: Any) -> Any:
        h, pullback = jax.vjp(forward, x, h0, Wx, Wh, b)
        return h, pullback(G)

    args = [jnp.asarray(a) for a in (problem.x, problem.h0[0], *core_weights(problem.module))]
    G = jnp.asarray(problem.G)

    def run() -> tuple[Array, ...]:
        h, grads = forward_backward(*args, G)
        jax.block_until_ready(grads)
        return np.asarray(h), *grads

    return Contender("JAX", run)


def onnxruntime_contender(problem: Problem, ort: ModuleType, threads: int) -> Contender:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    model = rr.RNN.from_torch(problem.module).to_onnx()
    session = ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    feeds = {"input": problem.x, "hx": problem.h0}

    def run() -> tuple[Array, ...]:
        return tuple(session.run(["output"], feeds))

    return Contender("onnxruntime", run)


def warm_up(contenders: Sequence[Contender]) -> dict[str, Array]:
    """One untimed run each, returning the hidden states each computed.

    It pays for first-touch page faults, lazy initialisation, JAX's compilation and waking the
    BLAS threads before the clock runs; the outputs show whether all did the same work.
    """
    outputs: dict[str, Array] = {}
    for contender in contenders:
        contender.reset()
        made = contender.run()
        if made is not None:
            outputs[contender.name] = np.asarray(made[0])
    return outputs


def time_interleaved(
    contenders: Sequence[Contender], rounds: int, runs_per_turn: int
) -> dict[str, list[float]]:
    """Seconds of every run of each contender, the contenders taking turns in every round.

    Each round starts one contender later than the last, so that every contender runs after each
    of the others about equally often. What a contender made stays alive until just before its
    next run, off the clock, as `SimpleRNN` and `RNN` keep their cache until the next forward:
    how fast the fresh memory for a run's results comes depends on what was freed just before.
    At T = 1000, two identical copies of the core, one whose results were freed right after its
    run and one whose were freed right before its next run, measured 1.60 and 1.17 of the floor.
    """
    times: dict[str, list[float]] = {contender.name: [] for contender in contenders}
    kept: dict[str, object] = {}
    for round_ in range(rounds):
        shift = round_ % len(contenders)
        for contender in [*contenders[shift:], *contenders[:shift]]:
            time.sleep(GAP_SECONDS)
            for _ in range(runs_per_turn):
                kept.pop(contender.name, None)
                seconds, kept[contender.name] = time_once(contender)
                times[contender.name].append(seconds)
    return times


def time_once(contender: Contender) -> tuple[float, object]:
    """The seconds of one run (after its untimed reset), and what it made."""
    contender.reset()
    # As timeit does: a collection of someone else's garbage is not this run's cost.
    gc.disable()
    try:
        start = time.perf_counter()
        made = contender.run()
        return time.perf_counter() - start, made
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
    peers: dict[str, ModuleType],
    threads: int,
    index: str,
) -> Row:
    N, T, D, H = size
    name = np.dtype(dtype).name
    problem = make_problem(size, dtype)
    # Built fresh for the memory measurement, so no cache of an earlier run is replaced inside it.
    peak = {
        "core": peak_traced_bytes(core_contender(problem).run),
        "RNN": peak_traced_bytes(rnn_contender(problem).run),
    }
    contenders = [
        floor_contender(problem),
        core_contender(problem),
        simple_rnn_contender(problem),
        rnn_contender(problem),
        torch_contender(problem),
    ]
    if "jax" in peers:
        contenders.append(jax_contender(problem, peers["jax"]))
    if "onnxruntime" in peers and name == "float32":
        contenders.append(core_forward_contender(problem))
        contenders.append(onnxruntime_contender(problem, peers["onnxruntime"], threads))
    rounds, runs_per_turn = schedule
    log(f"{index} {name} (N, T, D, H) = {size}: {rounds} rounds of {runs_per_turn} runs each")
    outputs = warm_up(contenders)
    diff = {
        who: float(np.abs(h - outputs["torch"]).max())
        for who, h in outputs.items()
        if who != "torch"
    }
    samples = time_interleaved(contenders, rounds, runs_per_turn)
    seconds = {who: statistics.median(times) for who, times in samples.items()}
    quartiles = {who: quartile_pair(times) for who, times in samples.items()}

    peer_seconds = {who: seconds[who] for who in FWD_BWD_PEERS if who in seconds}
    core_to_peer = {who: seconds["core"] / s for who, s in peer_seconds.items()}
    core_to_peer["fastest"] = seconds["core"] / min(peer_seconds.values())
    floor = N * T * H * np.dtype(dtype).itemsize
    row = Row(
        dtype=name,
        N=N,
        T=T,
        D=D,
        H=H,
        gflop=fwd_bwd_flops(N, T, D, H) / 1e9,
        rounds=rounds,
        runs_per_turn=runs_per_turn,
        median_seconds=seconds,
        quartile_seconds=quartiles,
        core_to_floor=seconds["core"] / seconds["floor"],
        to_core={who: seconds[who] / seconds["core"] for who in OURS[1:]},
        core_to_peer=core_to_peer,
        fwd_to_onnxruntime=(
            seconds["core fwd"] / seconds["onnxruntime"] if "onnxruntime" in seconds else None
        ),
        peak_bytes=peak,
        floor_bytes=floor,
        memory_multiple={who: peak[who] / floor for who in MEMORY},
        max_abs_diff_h=diff,
    )
    log(f"{index}   " + ", ".join(f"{who} {1e3 * s:.3f} ms" for who, s in seconds.items()))
    return row


def _ms(row: Row, who: str) -> str:
    return f"{1e3 * row.median_seconds[who]:.3f}" if who in row.median_seconds else "-"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def markdown(report: dict[str, Any], rows: Sequence[Row]) -> str:
    blas, tinfo, load = report["blas"], report["torch"], report["load_average_1min"]
    backends = ", ".join(name for name in ("mkl", "mkldnn") if tinfo[name]) or "no MKL, no oneDNN"
    peers = report["peers"]
    peer_text = "; ".join(
        f"{who} {version}" if version else f"{who} not installed (skipped)"
        for who, version in peers.items()
    )
    env = ", ".join(f"{key}={value}" for key, value in report["blas_environment"].items())
    floor_targets = ", ".join(
        f"{target:g} at {', '.join(map(str, size))}" for size, target in TARGET_FLOOR.items()
    )
    lines = [
        (
            f"numpy {report['numpy']}, BLAS: {blas.get('internal_api')} {blas.get('version')} "
            f"({blas.get('architecture')} kernel), {blas.get('num_threads')} threads ({env}); "
            f"torch {tinfo['version']} ({backends}), {tinfo['num_threads']} threads; "
            f"{peer_text}; {report['machine']} with {report['cpus']} CPUs, "
            f"Python {report['python']}."
        ),
        "",
        (
            f"Medians of interleaved runs, ms; every ratio is of two medians from the same rounds. "
            f"Load average (1 min) before and after: {load['before']:.2f}, {load['after']:.2f}; "
            f"other busy processes skew the numbers."
        ),
        "",
        (
            f"Targets, reported and not enforced: core/floor <= {floor_targets}; "
            f"core/torch <= {TARGET_TORCH:g}; SimpleRNN and RNN <= {TARGET_WRAPPERS:g}x core; "
            f"memory <= {TARGET_MEMORY_MULTIPLE:g}x the N·T·H·itemsize floor. "
            "onnxruntime runs forward only, float32: it is compared with `rnn_forward` (core fwd)."
        ),
        "",
        (
            "| dtype | N, T, D, H | floor ms | core ms | core/floor | SimpleRNN/core | RNN/core "
            "| torch ms | JAX ms | core/torch | core/fastest peer "
            "| core fwd ms | onnxruntime ms | fwd/onnxruntime | core mem | RNN mem |"
        ),
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for row in rows:
        lines.append(
            f"| {row.dtype} | {row.N}, {row.T}, {row.D}, {row.H} "
            f"| {_ms(row, 'floor')} | {_ms(row, 'core')} | {row.core_to_floor:.2f} "
            f"| {row.to_core['SimpleRNN']:.2f} | {row.to_core['RNN']:.2f} "
            f"| {_ms(row, 'torch')} | {_ms(row, 'JAX')} "
            f"| {row.core_to_peer['torch']:.2f} | {row.core_to_peer['fastest']:.2f} "
            f"| {_ms(row, 'core fwd')} | {_ms(row, 'onnxruntime')} "
            f"| {_ratio(row.fwd_to_onnxruntime)} "
            f"| {row.memory_multiple['core']:.2f}x | {row.memory_multiple['RNN']:.2f}x |"
        )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="the two small sizes, few runs")
    parser.add_argument("--json", type=Path, default=Path("bench.json"), help="JSON output path")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="BLAS, torch and peers' threads (default: numpy's)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    sizes = SIZES[:2] if args.quick else SIZES
    schedule = QUICK_SCHEDULE if args.quick else SCHEDULE
    threads = args.threads or numpy_blas().get("num_threads") or 1
    load_before = os.getloadavg()[0]
    modules = {"jax": import_jax(threads), "onnxruntime": optional("onnxruntime")}
    peers = {who: module for who, module in modules.items() if module is not None}
    with threadpool_limits(limits=threads, user_api="blas"):
        # Same thread count on every side, or the comparison measures the thread pools.
        torch.set_num_threads(threads)
        blas, tinfo = numpy_blas(), torch_info()
        log(f"BLAS {blas.get('internal_api')} {blas.get('version')}, {threads} threads")
        rows: list[Row] = []
        jobs = [(dtype, size) for dtype in DTYPES for size in sizes]
        for i, (dtype, size) in enumerate(jobs, start=1):
            index = f"[{i}/{len(jobs)}]"
            rows.append(bench_row(size, dtype, schedule[size], peers, threads, index))

    report: dict[str, Any] = {
        "quick": args.quick,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": blas,
        # set on some machines to work around old OpenBLAS bugs; they change the kernel that runs
        "blas_environment": {
            key: os.environ.get(key, "unset") for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
        },
        "torch": tinfo,
        "peers": {who: getattr(module, "__version__", None) for who, module in modules.items()},
        "threads": threads,
        "load_average_1min": {"before": load_before, "after": os.getloadavg()[0]},
        "targets": {
            "core_to_floor_max": {str(size): target for size, target in TARGET_FLOOR.items()},
            "core_to_torch_max": TARGET_TORCH,
            "wrappers_to_core_max": TARGET_WRAPPERS,
            "memory_multiple_max": TARGET_MEMORY_MULTIPLE,
        },
    }
    sys.stdout.write(markdown(report, rows) + "\n")
    report["rows"] = [asdict(row) for row in rows]
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    log(f"wrote {args.json}")


if __name__ == "__main__":
    main()
