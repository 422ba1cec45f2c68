"""The cases ``python -m reference_rnn check`` runs, and their expected values from the reference.

Long on purpose: a case, its expected values and its tolerance are one thing.

Shapes: N batch, T time steps, D input features, H hidden units; batch-first, as the functional
core. A case holds the inputs ``x (N, T, D)``, ``h0 (N, H)``, ``Wx (D, H)``, ``Wh (H, H)``,
``b (H,)`` and an arbitrary upstream gradient ``dh (N, T, H)`` (dL/dh_t at every step), so that
every gradient is tested, not only the one of a convenient loss. Its expected values, ``h``,
``dx``, ``dh0``, ``dWx``, ``dWh`` and ``db``, come from :func:`reference_rnn.rnn_forward` and
:func:`reference_rnn.rnn_backward`, computed in float64 from the case's own (possibly float32)
inputs, so that a float32 implementation is measured against the exact answer to its own inputs.

APIs whose code ends in an output layer (:mod:`reference_rnn.core.readout`) are given cases with a
:class:`Readout`: its weights ``Wy (H, Q)``, ``by (Q,)``, and for a linear one the upstream
gradient ``dy (N, T, Q)`` of the outputs, whose share ``dy_t @ Wy.T`` is then the case's ``dh``.
Their expected values add ``y (N, T, Q)``, and for a linear output ``dWy`` and ``dby``.

The battery covers a batch of one and more, one step and long sequences, zero and nonzero
initial states, weights from tiny to saturating, the exercise's documented sample, and (for
layers that keep their state between calls) one sequence fed as two consecutive blocks.
"""

from __future__ import annotations

import secrets
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import NamedTuple

import numpy as np

from reference_rnn.core.draw import draw_arrays
from reference_rnn.core.sample import documented_sample
from reference_rnn.core.validation import DTYPES, FloatArray

__all__ = [
    "DTYPES",
    "FORWARD_KEYS",
    "KEYS",
    "ROUNDING",
    "SEEDS",
    "Case",
    "Implementation",
    "Inputs",
    "Readout",
    "Values",
    "battery",
    "evaluate",
    "expected_value",
    "fresh_seed",
    "make_case",
    "reference",
    "with_readout",
]

#: The expected values of every case: the states, then each gradient. A case with a
#: :class:`Readout` adds the outputs ``y``, and for a linear layer ``dWy`` and ``dby``.
KEYS = ("h", "dx", "dh0", "dWx", "dWh", "db")
#: The values of the forward pass: the states, the final state, the outputs.
FORWARD_KEYS = ("h", "h_last", "y")
#: Outputs per step of a case's output layer.
Q = 4
#: A battery's seed is an integer from 0 to SEEDS - 1.
SEEDS = 2**32
#: How many times its own rounding a correct result may be off by on an ill-conditioned case
#: (:meth:`Case.tolerance`): another order of the same sums rounds differently, and loses up to
#: several times what the reference's order loses (measured on correct code of every API over
#: 200 batteries, tests/test_check_rounding.py; a mistake is off by far more).
ROUNDING = 16


def fresh_seed() -> int:
    """A seed for one run's battery, from the operating system's randomness: a run's inputs are
    not known before it draws them."""
    return secrets.randbits(32)


#: One run's values by key (:data:`KEYS`, and ``h_last``), float64: the checker's own, not the
#: oracles' ``Results``, whose keys are ``RNN``'s.
Values = dict[str, FloatArray]


class Inputs(NamedTuple):
    """One run's arrays, float64: x (N, T, D), h0 (N, H), Wx, Wh, b, dh (N, T, H)."""

    x: FloatArray
    h0: FloatArray
    Wx: FloatArray
    Wh: FloatArray
    b: FloatArray
    dh: FloatArray


class Readout(NamedTuple):
    """An output layer on the states: ``y_t = h_t @ Wy + by``, or its softmax over the Q outputs.

    Wy (H, Q), by (Q,); dy (N, T, Q), the upstream gradient of a linear layer's outputs (zeros
    for a softmax one, whose API backpropagates the states' gradient ``dh`` only).
    """

    softmax: bool
    Wy: FloatArray
    by: FloatArray
    dy: FloatArray


#: An RNN written as a function: the reference, or a wrong variant of it (reference_rnn.checker.catalogue).
Implementation = Callable[[Inputs], Values]


def reference(a: Inputs) -> Values:
    """The functional core's states and gradients: every value a check expects.

    The core is imported here, not with the module: the worker process, which shares the
    :class:`Case` and never computes an expected value, never loads the math.
    """
    from reference_rnn.core.functional import rnn_backward, rnn_forward  # noqa: PLC0415

    h, cache = rnn_forward(a.x, a.h0, a.Wx, a.Wh, a.b)
    dx, dh0, dWx, dWh, db = rnn_backward(a.dh, cache)
    return {"h": h, "dx": dx, "dh0": dh0, "dWx": dWx, "dWh": dWh, "db": db}


def _in_float32(a: Inputs) -> Values:
    """The reference computed in float32 from ``a`` moved by float32's rounding, its results in
    float64.

    Every input is moved by one unit of float32's rounding, up or down (a fixed draw), as code
    that computes one of them itself moves it (d2l's autograd makes ``dh`` from ``dy``): then
    the reference's own arithmetic rounds in float32 too.
    """
    rng = np.random.default_rng(0)
    eps = float(np.finfo(np.float32).eps)
    moved = (x * (1 + eps * rng.choice((-1.0, 1.0), x.shape)) for x in a)
    values = reference(Inputs(*(x.astype(np.float32) for x in moved)))
    return {key: value.astype(np.float64) for key, value in values.items()}


@dataclass(frozen=True, eq=False)
class Case:
    """One check case: its inputs in the checked dtype, and (``expected``) the reference's answer.

    ``split``: None for one call; otherwise a layer that keeps its state runs ``x[:, :split]``
    from ``h0`` and then ``x[:, split:]`` from the state the first block ended in, and the
    expected values are the second block's (its ``dh0`` is the gradient at the carried state).
    """

    name: str
    about: str
    x: FloatArray
    h0: FloatArray
    Wx: FloatArray
    Wh: FloatArray
    b: FloatArray
    dh: FloatArray
    split: int | None = None
    readout: Readout | None = None

    def __str__(self) -> str:  # for pytest.mark.parametrize(..., ids=str)
        return self.name

    @property
    def dtype(self) -> str:
        return str(self.x.dtype)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """(N, T, D, H)."""
        N, T, D = self.x.shape
        return N, T, D, self.Wx.shape[1]

    @property
    def zero_h0(self) -> bool:
        return not self.h0.any()

    def inputs(self) -> Inputs:
        """The case's arrays in float64 (exactly: float32 widens without rounding)."""
        return Inputs(*(np.asarray(a, dtype=np.float64) for a in self._arrays()))

    def _arrays(self) -> tuple[FloatArray, ...]:
        return self.x, self.h0, self.Wx, self.Wh, self.b, self.dh

    @cached_property
    def expected(self) -> Values:
        """The reference's states and gradients (float64), keyed by :data:`KEYS`."""
        return evaluate(reference, self)

    @cached_property
    def rounding(self) -> dict[str, float]:
        """How far float32's rounding moves the reference's results on this case, by key: the
        reference computed in float32 from its inputs moved by float32's rounding
        (:func:`_in_float32`), against :attr:`expected`, measured as the checks are. It is the
        case's conditioning times float32's rounding: large where tanh saturates."""
        from reference_rnn.core.measure import scaled_error  # noqa: PLC0415 (as reference's)

        rounded = evaluate(_in_float32, self)
        return {key: scaled_error(rounded[key], value) for key, value in self.expected.items()}

    def tolerance(self, key: str) -> float:
        """The tolerance of the check of ``key`` on this case: its dtype's
        (:data:`~reference_rnn.core.measure.TOLERANCE`), or, where the case is worse conditioned,
        :data:`ROUNDING` times what rounding alone moves the reference by in its dtype
        (:attr:`rounding`, scaled from float32's precision to the dtype's)."""
        from reference_rnn.core.measure import TOLERANCE  # noqa: PLC0415 (as reference's)

        precision = float(np.finfo(self.dtype).eps / np.finfo(np.float32).eps)
        own = self.rounding["h" if key == "h_last" else key]
        return max(TOLERANCE[self.dtype], ROUNDING * own * precision)

    def first_step(self) -> Case:
        """The same case cut to its first time step (for one-step APIs)."""
        steps = slice(0, 1)
        return replace(
            self,
            x=self.x[:, steps],
            dh=self.dh[:, steps],
            split=None,
            readout=self.readout_cut(steps),
        )

    def sequence(self, n: int) -> Case:
        """The case for sequence ``n`` of the batch alone (a batch of one)."""
        rows = slice(n, n + 1)
        return replace(
            self,
            x=self.x[rows],
            h0=self.h0[rows],
            dh=self.dh[rows],
            readout=self.readout_cut(rows, 0),
        )

    def readout_cut(self, part: slice, axis: int = 1) -> Readout | None:
        """The readout with ``dy`` cut as ``dh`` is: ``part`` of its steps, or of its rows."""
        if self.readout is None:
            return None
        dy = self.readout.dy[:, part] if axis == 1 else self.readout.dy[part]
        return self.readout._replace(dy=dy)

    def with_upstream(self, dh: FloatArray) -> Case:
        """The same case with another upstream gradient ``dh (N, T, H)``."""
        return replace(self, dh=np.asarray(dh, dtype=self.x.dtype))


def with_readout(case: Case, softmax: bool) -> Case:
    """``case`` with an output layer of Q outputs, drawn from the case's name, shape and inputs
    (so, for a battery, from its seed).

    Wy is U(-1/sqrt(H), 1/sqrt(H)), as torch's ``Linear`` draws it; by is standard normal. For a
    linear layer, dy is standard normal and ``dh`` becomes ``dy_t @ Wy.T`` (in float64, then the
    case's dtype): the states' gradient when the loss reads the outputs only, as d2l's does.
    """
    N, T, _, H = case.shape
    inputs = zlib.crc32(case.x.tobytes() + case.h0.tobytes() + case.Wx.tobytes())
    drawn = [zlib.crc32(case.name.encode()), inputs, N, T, H, int(softmax)]
    rng = np.random.default_rng(drawn)
    k = 1 / np.sqrt(H)
    Wy, by = rng.uniform(-k, k, (H, Q)), rng.standard_normal(Q)
    dy = np.zeros((N, T, Q)) if softmax else rng.standard_normal((N, T, Q))
    dtype = case.x.dtype
    readout = Readout(softmax, *(a.astype(dtype) for a in (Wy, by, dy)))
    if softmax:
        return replace(case, readout=readout)
    dh = readout.dy.astype(np.float64) @ readout.Wy.astype(np.float64).T
    return replace(case, dh=dh.astype(dtype), readout=readout)


def expected_value(results: Values, key: str) -> FloatArray:
    """``results[key]``; ``"h_last"`` is the final state ``h[:, -1]`` (N, H)."""
    return results["h"][:, -1] if key == "h_last" else results[key]


def evaluate(implementation: Implementation, case: Case, *, carries_state: bool = True) -> Values:
    """``implementation``'s results on ``case``; for a case in two blocks, the second block's.

    ``carries_state=False`` starts the second block from zeros instead of the first block's
    final state: what a layer that does not keep its state computes.
    """
    a = case.inputs()
    if case.split is None:
        return _read_out(implementation(a), case.readout)
    s = case.split
    first = implementation(a._replace(x=a.x[:, :s], dh=np.zeros_like(a.dh[:, :s])))
    carried = first["h"][:, -1] if carries_state else np.zeros_like(a.h0)
    second = implementation(a._replace(x=a.x[:, s:], h0=carried, dh=a.dh[:, s:]))
    return _read_out(second, None if case.readout is None else case.readout_cut(slice(s, None)))


def _read_out(values: Values, readout: Readout | None) -> Values:
    """``values`` and, with an output layer, its outputs (and gradients) from ``values["h"]``.

    The layer reads whatever states the implementation computed: a wrong variant's states give
    that variant's outputs.
    """
    if readout is None:
        return values
    from reference_rnn.core.readout import readout_backward, readout_forward  # noqa: PLC0415

    Wy, by, dy = (np.asarray(a, dtype=np.float64) for a in readout[1:])
    y = readout_forward(values["h"], Wy, by, softmax=readout.softmax)
    if readout.softmax:
        return values | {"y": y}
    _, dWy, dby = readout_backward(dy, values["h"], Wy)
    return values | {"y": y, "dWy": dWy, "dby": dby}


def make_case(
    name: str,
    N: int,
    T: int,
    D: int,
    H: int,
    *,
    dtype: str = "float64",
    seed: int = 0,
    zero_h0: bool = False,
    scale: float = 1.0,
    split: int | None = None,
    about: str = "",
) -> Case:
    """A random case: the arrays of :func:`~reference_rnn.core.draw.draw_arrays`, in ``dtype``."""
    if dtype not in DTYPES:
        msg = f"dtype must be one of {DTYPES}, got {dtype!r}"
        raise ValueError(msg)
    arrays = tuple(draw_arrays(N, T, D, H, seed=seed, zero_h0=zero_h0, scale=scale).values())
    if not about:
        about = f"N={N}, T={T}, D={D}, H={H}, h0 {'zero' if zero_h0 else 'random'}"
        about += f", weights {scale:g} x torch's init" * (scale != 1)
    return _case(name, about, arrays, dtype, split)


def _sample(name: str, about: str, dtype: str, seed: int, *, zero_h0: bool) -> Case:
    """The exercise's problem 2 (x, w_x, w_h, b), with a random upstream gradient."""
    s = documented_sample()
    rng = np.random.default_rng(seed)
    h0 = s["h"] if zero_h0 else rng.uniform(-1, 1, s["h"].shape)
    dh = rng.standard_normal((*s["x"].shape[:2], s["w_x"].shape[1]))
    arrays = (s["x"], h0, s["w_x"], s["w_h"], s["b"], dh)
    return _case(name, about, arrays, dtype)


def _case(
    name: str, about: str, arrays: Sequence[object], dtype: str, split: int | None = None
) -> Case:
    """A case from x, h0, Wx, Wh, b and dh, in ``dtype``."""
    x, h0, Wx, Wh, b, dh = (np.asarray(a, dtype=dtype) for a in arrays)
    return Case(name, about, x, h0, Wx, Wh, b, dh, split)


def battery(dtype: str = "float64", *, seed: int = 0, stateful: bool = False) -> list[Case]:
    """Every case the checker runs, in ``dtype``; ``stateful`` adds the case in two blocks.

    Every case is drawn from ``seed`` but ``sample``, the exercise's documented problem 2, which
    is the same in every battery. The random cases have D = 3 and H = 5, so that code which reads
    the exercise's (2, 4) arrays instead of its own fails loudly rather than by chance.
    """
    cases = [
        _sample("sample", "the exercise's problem 2: N=1, T=3, D=2, H=4", dtype, 0, zero_h0=True),
        _sample("sample-h0", "problem 2 from a random h0", dtype, seed + 1, zero_h0=False),
        *(
            make_case(name, N, T, 3, 5, dtype=dtype, seed=seed + 2 + i, zero_h0=zero, scale=scale)
            for i, (name, N, T, zero, scale) in enumerate(
                [
                    ("one-step", 1, 1, False, 1.0),
                    ("one-step-batch", 4, 1, True, 1.0),
                    ("batch-of-one", 1, 6, False, 1.0),
                    ("batch", 4, 6, True, 1.0),
                    ("batch-h0", 4, 6, False, 1.0),
                    ("long", 2, 40, False, 1.0),
                    ("small-weights", 3, 5, False, 0.01),
                    ("saturating", 3, 8, False, 4.0),
                ]
            )
        ),
    ]
    if stateful:
        cases.append(
            make_case(
                "stateful",
                2,
                8,
                3,
                5,
                dtype=dtype,
                seed=seed + 20,
                zero_h0=True,  # from reset_state(); set_state is checked by the other cases
                split=3,  # unequal: a layer that keeps what it built for the first T fails
                about="T=8 fed as two blocks, of 3 then 5 steps, to a stateful layer",
            )
        )
    return cases
