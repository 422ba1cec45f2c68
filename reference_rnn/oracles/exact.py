"""The exact-arithmetic oracle: torch's documented recurrences in mpmath at 50 significant digits.

Long on purpose: the tape, the network's driver and each cell's step on the tape are one oracle,
read together (a cell's step is a few lines of the tape's primitives).

Written from the equations in ``torch.nn.RNN``'s, ``torch.nn.LSTM``'s and ``torch.nn.GRU``'s
documentation, for layer ``l`` and direction ``k``:

    h_t = act(x_t @ weight_ih.T + bias_ih + h_{t-1} @ weight_hh.T + bias_hh)
    (LSTM: the gates i, f, g, o of the same sum, c_t = f c_{t-1} + i g, h_t = o tanh(c_t))

one scalar at a time, directly on the problem's raw arrays (torch's names and layout). A layer's
input is the previous layer's output, ``[forward, reverse]`` on the last axis, times the problem's
dropout mask when it has one. With lengths, sequence ``n`` is read at its steps ``0 .. length-1``
only, forwards and (reverse direction) backwards; its output is zero past its length and its
``h_n`` is the state after its last step read: packed-sequence semantics.

Accuracy. Every input is a binary floating-point number, converted to an mpmath number without
rounding; every operation then rounds at 50 significant digits (a relative error of 1e-50), and
the networks here are contractive (torch's initialisation, tanh or relu), so the computed values
and gradients differ from the exact ones by about 1e-45 of their scale. Rounding that to float64
(``float()`` of an mpmath number rounds to nearest) gives the correctly rounded float64 result,
except for values within 1e-45 of a midpoint between two float64 numbers. Against it, a float64
implementation's error is its own: the report states it in units of float64 eps (2.2e-16).

Gradients: reverse accumulation on a scalar tape. Every value computed is a node that records its
parents and the derivatives with respect to them, for five primitives only: a sum of products
(``d(sum a_i b_i + c) = sum b_i da_i + a_i db_i + dc``), tanh (``1 - tanh**2``), relu (1 where
positive, 0 elsewhere, as torch), sigmoid (``s (1 - s)``, the LSTM's and GRU's gates) and a product
with a constant (a dropout mask). The GRU's step (``_gru``) is written from torch's equations, or
with ``reset_after=False`` the ONNX default's, in those primitives. The adjoints of
``L = sum(output * grad_output) + sum(h_n * grad_h_n)`` are seeded with the upstream gradients and
swept through the nodes in reverse order of creation. Nothing in it knows of time steps, layers or
directions, so its correctness rests on the chain rule and those four derivatives, not on the
backpropagation-through-time formulas of the reference's core; the tests check it against a
closed form and against central differences of this module's forward at 60 digits (step 1e-20:
truncation error about 1e-40, rounding error about 1e-40). Central differences, or forward-mode
dual numbers, as the oracle itself would need one or two forward passes per input: for the
three-layer bidirectional parity case (600 inputs) 1200 passes of 0.07 s, over a minute, where
the forward and reverse sweeps here take 0.25 s together.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from reference_rnn.core.config import Mode, RNNConfig
from reference_rnn.core.optional import require
from reference_rnn.oracles import Problem, Results

__all__ = [
    "DIGITS",
    "GRADIENTS",
    "MAX_SIZES",
    "MAX_WORK",
    "NAME",
    "Evaluation",
    "evaluate",
    "import_mpmath",
    "inputs",
    "known_difference",
    "run",
    "unsupported",
    "version",
]

NAME = "exact"
GRADIENTS = True
#: Significant decimal digits of every operation.
DIGITS = 50
#: The largest N, T, D and H exact arithmetic is run at.
MAX_SIZES = {"N": 4, "T": 6, "D": 5, "H": 5}
#: The most multiply-adds, sum over layers and directions of N * T * H * (D_l + H), it is run at:
#: about 0.4 s on this project's machine (the largest parity case, 3 layers bidirectional, has 5850
#: and runs in 0.25 s).
MAX_WORK = 10_000

ObjectArray = NDArray[np.object_]
IdArray = NDArray[np.int64]


def import_mpmath() -> ModuleType:
    """mpmath, or an ImportError that says how to get it."""
    return require("mpmath", extra="oracle-exact", purpose="the exact oracle")


def version() -> str:
    return f"mpmath {import_mpmath().__version__} at {DIGITS} digits"


def unsupported(problem: Problem) -> str | None:
    """Why exact arithmetic is not run on ``problem``: float32, or too big to run in a blink."""
    if problem.dtype != "float64":
        return (
            "exact arithmetic is the yardstick of float64 results; float32 ones are checked "
            "against the float32 oracles"
        )
    T, N = _time_and_batch(problem)
    sizes = {"N": N, "T": T, "D": problem.config.input_size, "H": problem.config.hidden_size}
    if any(sizes[name] > limit for name, limit in MAX_SIZES.items()):
        return (
            f"too big for exact arithmetic: (N, T, D, H) = {tuple(sizes.values())}, "
            f"at most {tuple(MAX_SIZES.values())}"
        )
    work = _work(problem)
    if work > MAX_WORK:
        return f"too big for exact arithmetic: {work} multiply-adds, at most {MAX_WORK}"
    return None


def known_difference(problem: Problem) -> str | None:  # noqa: ARG001
    return None


def run(problem: Problem) -> Results:
    """The correctly rounded float64 output, h_n, grad_input, grad_hx and ``grad.<name>``."""
    evaluation = evaluate(problem, inputs(problem))
    to_float = np.vectorize(float, otypes=[np.float64])  # rounds to nearest
    results = {"output": to_float(evaluation.output), "h_n": to_float(evaluation.h_n)}
    if evaluation.c_n is not None:
        results["c_n"] = to_float(evaluation.c_n)
    return results | {key: to_float(grad) for key, grad in evaluation.gradients.items()}


def inputs(problem: Problem) -> dict[str, ObjectArray]:
    """The problem's input, initial state and parameters as mpmath numbers, exactly.

    Keyed by the name of their gradient in the results: ``grad_input``, ``grad_hx`` (zeros when
    ``hx`` is None), an LSTM's ``grad_cx`` likewise, and ``grad.<torch parameter name>``.
    """
    mpmath = import_mpmath()
    c = problem.config
    LK = c.num_layers * c.num_directions
    _, N = _time_and_batch(problem)
    batch = (LK,) if problem.unbatched else (LK, N)
    hx = np.zeros((*batch, c.output_size)) if problem.hx is None else problem.hx
    arrays = {"grad_input": problem.x, "grad_hx": hx}
    if c.cell == "LSTM":
        arrays["grad_cx"] = np.zeros((*batch, c.hidden_size)) if problem.cx is None else problem.cx
    arrays |= {f"grad.{name}": value for name, value in problem.params.items()}
    # float() of a float32 or float64 value is exact, and so is mpf() of a float at 50 digits
    # (at the caller's precision it need not be)
    exact = np.vectorize(lambda v: mpmath.mpf(float(v)), otypes=[object])
    with mpmath.workdps(DIGITS):
        return {key: exact(value) for key, value in arrays.items()}


@dataclass(frozen=True)
class Evaluation:
    """The network's values and gradients as mpmath numbers, arrays in the problem's layouts."""

    output: ObjectArray
    h_n: ObjectArray
    #: ``sum(output * grad_output) + sum(h_n * grad_h_n)`` (``+ sum(c_n * grad_c_n)``, LSTM)
    loss: Any
    #: ``d loss / d values[key]`` for every key of the values evaluated
    gradients: dict[str, ObjectArray]
    #: an LSTM's final cell states
    c_n: ObjectArray | None = None


def evaluate(
    problem: Problem, values: Mapping[str, ObjectArray], digits: int = DIGITS
) -> Evaluation:
    """The network of ``problem`` on ``values`` (as :func:`inputs` gives) at ``digits`` digits.

    Only the options, lengths, dropout masks and upstream gradients are read from ``problem``;
    the input, initial state and parameters are ``values``, so that a test may move one of them
    by less than a float64 can.
    """
    mpmath = import_mpmath()
    with mpmath.workdps(digits):
        tape = _Tape(mpmath)
        ids = {key: tape.leaves(value) for key, value in values.items()}
        output, h_n, c_n = _forward(tape, problem, ids)
        pairs = [(output, problem.grad_output), (h_n, problem.grad_h_n)]
        if c_n is not None and problem.grad_c_n is not None:
            pairs.append((c_n, problem.grad_c_n))
        seeds = [
            (node, mpmath.mpf(float(g)))
            for nodes, upstream in pairs
            for node, g in zip(nodes.ravel().tolist(), upstream.flat, strict=True)
        ]
        loss = mpmath.fsum(tape.values[node] * g for node, g in seeds)
        adjoints = tape.adjoints(seeds)
        return Evaluation(
            output=tape.lookup(tape.values, output),
            h_n=tape.lookup(tape.values, h_n),
            loss=loss,
            gradients={key: tape.lookup(adjoints, nodes) for key, nodes in ids.items()},
            c_n=None if c_n is None else tape.lookup(tape.values, c_n),
        )


class _Tape:
    """Every value computed, in the order computed, with the derivatives to its parents.

    Node ``i`` has the value ``values[i]`` and ``parents[i]``, pairs ``(j, d node_i / d node_j)``.
    A node's parents exist before it, so the reverse order of creation is a topological order.
    """

    def __init__(self, mpmath: ModuleType) -> None:
        self.mpmath = mpmath
        self.values: list[Any] = []
        self.parents: list[Sequence[tuple[int, Any]]] = []

    def node(self, value: Any, parents: Sequence[tuple[int, Any]]) -> int:
        """A new node: its id."""
        self.values.append(value)
        self.parents.append(parents)
        return len(self.values) - 1

    def leaves(self, values: ObjectArray) -> IdArray:
        """New nodes without parents for ``values``: their ids, in the same shape."""
        ids = [self.node(value, ()) for value in values.flat]
        return np.array(ids, dtype=np.int64).reshape(values.shape)

    def lookup(self, per_node: Sequence[Any], nodes: IdArray) -> ObjectArray:
        """``per_node[i]`` for every id in ``nodes``, in the same shape."""
        values = [per_node[i] for i in nodes.ravel().tolist()]
        return np.array(values, dtype=np.object_).reshape(nodes.shape)

    def affine(self, pairs: Sequence[tuple[int, int]], terms: Sequence[int]) -> int:
        """``sum(a * b for a, b in pairs) + sum(terms)``, of nodes."""
        v, one = self.values, self.mpmath.mpf(1)
        value = self.mpmath.fdot([(v[a], v[b]) for a, b in pairs] + [(v[c], one) for c in terms])
        parents = [(a, v[b]) for a, b in pairs] + [(b, v[a]) for a, b in pairs]
        return self.node(value, parents + [(c, one) for c in terms])

    def activation(self, node: int, nonlinearity: str) -> int:
        """``tanh(node)`` or ``relu(node)``; relu's derivative at 0 is 0, as torch's."""
        a = self.values[node]
        if nonlinearity == "tanh":
            h = self.mpmath.tanh(a)
            return self.node(h, [(node, 1 - h * h)])
        positive = a > 0
        return self.node(a if positive else self.mpmath.mpf(0), [(node, int(positive))])

    def sigmoid(self, node: int) -> int:
        """``1 / (1 + exp(-node))``, whose derivative is ``s (1 - s)``."""
        s = 1 / (1 + self.mpmath.exp(-self.values[node]))
        return self.node(s, [(node, s * (1 - s))])

    def scale(self, node: int, factor: Any) -> int:
        """``factor * node`` for a constant ``factor``."""
        return self.node(factor * self.values[node], [(node, factor)])

    def adjoints(self, seeds: Iterable[tuple[int, Any]]) -> list[Any]:
        """``d loss / d node`` for every node, where ``loss = sum(g * node for node, g in seeds)``."""
        adjoint = [self.mpmath.mpf(0)] * len(self.values)
        for node, g in seeds:
            adjoint[node] += g
        for node in reversed(range(len(self.values))):
            for parent, derivative in self.parents[node]:
                adjoint[parent] += adjoint[node] * derivative
        return adjoint


def _forward(
    tape: _Tape, problem: Problem, ids: Mapping[str, IdArray]
) -> tuple[IdArray, IdArray, IdArray | None]:
    """The nodes of output, h_n and an LSTM's c_n (else None), in the problem's layouts, from the
    nodes of the values.

    A cell's state is h, or for an LSTM the pair (h, c); its output is h, P wide.
    """
    c = problem.config
    L, K, H, P = c.num_layers, c.num_directions, c.hidden_size, c.output_size
    T, N = _time_and_batch(problem)
    lengths = [T] * N if problem.lengths is None else [int(n) for n in problem.lengths]
    lstm = c.cell == "LSTM"
    hx = ids["grad_hx"].reshape(L * K, N, P)  # (LK, P) unbatched -> (LK, 1, P)
    cx = ids["grad_cx"].reshape(L * K, N, H) if lstm else None
    zero = tape.node(tape.mpmath.mpf(0), ())  # every padded output
    layer_in = _time_major(problem, ids["grad_input"])  # (T, N, D)
    h_n = np.empty((L * K, N, P), dtype=np.int64)
    c_n = np.empty((L * K, N, H), dtype=np.int64) if lstm else None
    step = _CELLS[c.mode]
    for layer in range(L):
        out = np.full((T, N, K * P), zero, dtype=np.int64)
        for k in range(K):
            names = c.param_names(layer, k)
            w_ih, w_hh = ids[f"grad.{names[0]}"], ids[f"grad.{names[1]}"]  # (G, D_l), (G, P)
            biases = [ids[f"grad.{name}"] for name in names[2:]] if c.bias else []
            extra = {"w_hr": ids[f"grad.{c.projection_name(layer, k)}"]} if c.proj_size else {}
            for n in range(N):
                i = layer * K + k
                state: Any = hx[i, n] if cx is None else (hx[i, n], cx[i, n])
                steps = range(lengths[n]) if k == 0 else reversed(range(lengths[n]))
                for t in steps:
                    state = step(tape, c, w_ih, w_hh, biases, layer_in[t, n], state, **extra)
                    out[t, n, k * P : (k + 1) * P] = state if cx is None else state[0]
                if c_n is None:
                    h_n[i, n] = state
                else:
                    h_n[i, n], c_n[i, n] = state
        if problem.dropout_masks is not None and layer < L - 1:
            mask = _time_major(problem, problem.dropout_masks[layer])  # (T, N, K * P)
            for index in np.ndindex(out.shape):
                out[index] = tape.scale(int(out[index]), tape.mpmath.mpf(float(mask[index])))
        layer_in = out
    if problem.unbatched:
        # (T, 1, K * P) -> (T, K * P), (LK, 1, S) -> (LK, S)
        return layer_in[:, 0], h_n[:, 0], None if c_n is None else c_n[:, 0]
    return _time_major(problem, layer_in), h_n, c_n  # (T, N, K * P) -> the output's layout


def _elman(
    tape: _Tape,
    c: RNNConfig,
    w_ih: IdArray,
    w_hh: IdArray,
    biases: Sequence[IdArray],
    x_t: IdArray,
    h: IdArray,
) -> IdArray:
    """One step of one sequence, node by node: ``act(w_ih @ x_t + w_hh @ h + biases)`` (H,)."""
    H = len(h)
    return np.array(
        [
            tape.activation(
                tape.affine(
                    [*zip(w_ih[j], x_t, strict=True), *zip(w_hh[j], h, strict=True)],
                    [b[j] for b in biases],
                ),
                c.nonlinearity,
            )
            for j in range(H)
        ],
        dtype=np.int64,
    )


def _lstm(
    tape: _Tape,
    c: RNNConfig,
    w_ih: IdArray,
    w_hh: IdArray,
    biases: Sequence[IdArray],
    x_t: IdArray,
    state: tuple[IdArray, IdArray],
    w_hr: IdArray | None = None,
) -> tuple[IdArray, IdArray]:
    """One step of one sequence, node by node, from torch's documented equations: the rows of
    ``w_ih (4H, D_l)``, ``w_hh (4H, P)`` and the biases are the gates i, f, g, o;
    ``c' = f * c + i * g``, ``h' = o * tanh(c')``, and ``h' = w_hr @ h'`` with ``w_hr (P, H)``."""
    h, cell = state
    H = c.hidden_size
    pre = [
        tape.affine(
            [*zip(w_ih[j], x_t, strict=True), *zip(w_hh[j], h, strict=True)],
            [b[j] for b in biases],
        )
        for j in range(4 * H)
    ]
    i = [tape.sigmoid(a) for a in pre[:H]]
    f = [tape.sigmoid(a) for a in pre[H : 2 * H]]
    g = [tape.activation(a, "tanh") for a in pre[2 * H : 3 * H]]
    o = [tape.sigmoid(a) for a in pre[3 * H :]]
    c_new = [tape.affine([(f[j], cell[j]), (i[j], g[j])], []) for j in range(H)]
    m = [tape.affine([(o[j], tape.activation(c_new[j], "tanh"))], []) for j in range(H)]
    if w_hr is not None:
        m = [tape.affine(list(zip(row, m, strict=True)), []) for row in w_hr]
    return np.array(m, dtype=np.int64), np.array(c_new, dtype=np.int64)


def _gru(
    tape: _Tape,
    c: RNNConfig,
    w_ih: IdArray,
    w_hh: IdArray,
    biases: Sequence[IdArray],
    x_t: IdArray,
    h: IdArray,
) -> IdArray:
    """One GRU step of one sequence, node by node, torch's gate order r, z, n (rows of w_ih)::

    r_j = sigmoid(w_ih[j] . x + w_hh[j] . h + b_ih[j] + b_hh[j]), z_j with rows H + j
    n_j = tanh(w_ih[k] . x + b_ih[k] + r_j * (w_hh[k] . h + b_hh[k]))   reset_after, k = 2H + j
    n_j = tanh(w_ih[k] . x + b_ih[k] + w_hh[k] . (r * h) + b_hh[k])     otherwise
    h'_j = n_j + z_j * h_j - z_j * n_j
    """
    H = len(h)
    b_ih, b_hh = biases if biases else (None, None)

    def bias(b: IdArray | None, row: int) -> list[int]:
        return [] if b is None else [b[row]]

    def gate(row: int) -> int:  # r (row j) or z (row H + j), through the sigmoid
        pairs = [*zip(w_ih[row], x_t, strict=True), *zip(w_hh[row], h, strict=True)]
        return tape.sigmoid(tape.affine(pairs, bias(b_ih, row) + bias(b_hh, row)))

    r = [gate(j) for j in range(H)]
    rh = [tape.affine([(r[i], h[i])], []) for i in range(H)]  # r * h, reset_after=False
    out = []
    for j in range(H):
        z, k = gate(H + j), 2 * H + j
        inputs = list(zip(w_ih[k], x_t, strict=True))
        if c.reset_after:
            hn = tape.affine(list(zip(w_hh[k], h, strict=True)), bias(b_hh, k))
            pre = tape.affine([*inputs, (r[j], hn)], bias(b_ih, k))
        else:
            pairs = [*inputs, *zip(w_hh[k], rh, strict=True)]
            pre = tape.affine(pairs, bias(b_ih, k) + bias(b_hh, k))
        n = tape.activation(pre, "tanh")
        out.append(tape.affine([(z, h[j]), (z, tape.scale(n, tape.mpmath.mpf(-1)))], [n]))
    return np.array(out, dtype=np.int64)


#: One step of one sequence for each cell, by ``config.mode``: a new cell is one more function.
_CELLS: dict[Mode, Callable[..., Any]] = {
    "RNN_TANH": _elman,
    "RNN_RELU": _elman,
    "LSTM": _lstm,
    "GRU": _gru,
}


def _time_major(problem: Problem, a: NDArray[Any]) -> NDArray[Any]:
    """An array laid out like the input or the output, as (T, N, F); and back when batched."""
    if problem.unbatched:
        return a[:, None]  # (T, F) -> (T, 1, F)
    return a.swapaxes(0, 1) if problem.config.batch_first else a  # (N, T, F) <-> (T, N, F)


def _time_and_batch(problem: Problem) -> tuple[int, int]:
    """T and N of the problem's input (N = 1 unbatched)."""
    if problem.unbatched:
        return problem.x.shape[0], 1
    first, second = problem.x.shape[:2]
    return (second, first) if problem.config.batch_first else (first, second)


def _work(problem: Problem) -> int:
    """Multiply-adds of the forward pass: N * T * G * (D_l + P) per layer and direction (G rows
    of gates: H for the Elman cell, 4H for the LSTM, 3H for the GRU; P wide states), and
    N * T * P * H more with a projection."""
    T, N = _time_and_batch(problem)
    c = problem.config
    G, P = c.gate_size, c.output_size
    widths = [c.layer_input_size(layer) for layer in range(c.num_layers)]
    per_step = [G * (D_l + P) + (P * c.hidden_size if c.proj_size else 0) for D_l in widths]
    return sum(c.num_directions * N * T * work for work in per_step)
