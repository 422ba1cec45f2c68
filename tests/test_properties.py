"""Property tests: the functional core and ``RNN`` against torch, and against their own algebra.

Every property is drawn by hypothesis over small shapes (N 0..4, T 1..6, D 1..5, H 1..5, up to
three layers), float64 values in [-3, 3] and weights at torch's initial scale,
U(-1/sqrt(H), 1/sqrt(H)), where two correct implementations agree to about 1e-12 of the values'
scale (docs/verification.md, "Tolerances"). The torch properties skip without torch; the others never import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from reference_rnn import RNN, rnn_backward, rnn_forward, rnn_step_backward, rnn_step_forward

RTOL = 1e-12
TINY = np.finfo(np.float64).tiny  # absolute slack for results that underflow to subnormals

few = settings(max_examples=25, deadline=None)
some = settings(max_examples=50, deadline=None)

# -- strategies -------------------------------------------------------------------------------

sizes = st.integers
nonlinearities = st.sampled_from(["tanh", "relu"])
layer_counts = sizes(1, 3)
flags = st.booleans()


def values(shape: tuple[int, ...]) -> st.SearchStrategy[np.ndarray]:
    """float64 arrays of ``shape`` with finite elements in [-3, 3]."""
    return hnp.arrays(np.float64, shape, elements=st.floats(-3, 3))


def weights(shape: tuple[int, ...], H: int) -> st.SearchStrategy[np.ndarray]:
    """Weights at torch's initial scale, U(-1/sqrt(H), 1/sqrt(H)), from a drawn seed.

    Not drawn element by element: hypothesis then builds exact cancellations (say
    ``bias_hh = -bias_ih``) that put a relu pre-activation on its kink, where torch and NumPy,
    adding in different orders, legitimately round to opposite sides and disagree by O(1).
    """
    k = 1 / np.sqrt(H)
    return st.integers(0, 2**32 - 1).map(
        lambda seed: np.random.default_rng(seed).uniform(-k, k, shape)
    )


@dataclass
class Problem:
    """Arguments of the functional core: ``rnn_forward(x, h0, Wx, Wh, b)``, then ``dh``."""

    x: np.ndarray  # (N, T, D)
    h0: np.ndarray  # (N, H)
    Wx: np.ndarray  # (D, H)
    Wh: np.ndarray  # (H, H)
    b: np.ndarray  # (H,)
    dh: np.ndarray  # (N, T, H)
    nonlinearity: str

    def forward(self) -> tuple[np.ndarray, Any]:
        return rnn_forward(
            self.x, self.h0, self.Wx, self.Wh, self.b, nonlinearity=self.nonlinearity
        )

    @property
    def value_floor(self) -> float:
        """The scale of the terms summed into a pre-activation (see :func:`assert_close`)."""
        return magnitude(self.x, self.h0, self.Wx, self.Wh, self.b)

    @property
    def grad_floor(self) -> float:
        """The scale of the upstream gradient (see :func:`assert_close`)."""
        return magnitude(self.dh)


@st.composite
def problems(draw: st.DrawFn) -> Problem:
    """A random problem for the functional core."""
    N, T, D, H = draw(sizes(0, 4)), draw(sizes(1, 6)), draw(sizes(1, 5)), draw(sizes(1, 5))
    return Problem(
        x=draw(values((N, T, D))),
        h0=draw(values((N, H))),
        Wx=draw(weights((D, H), H)),
        Wh=draw(weights((H, H), H)),
        b=draw(weights((H,), H)),
        dh=draw(values((N, T, H))),
        nonlinearity=draw(nonlinearities),
    )


@dataclass
class Case:
    """An ``RNN`` with drawn weights and the arguments of one forward and backward, in its layout."""

    rnn: RNN
    x: np.ndarray
    hx: np.ndarray | None
    lengths: np.ndarray | None
    grad_output: np.ndarray
    grad_h_n: np.ndarray

    @property
    def value_floor(self) -> float:
        """The scale of the terms summed into a pre-activation (see :func:`assert_close`)."""
        hx = () if self.hx is None else (self.hx,)
        return magnitude(self.x, *hx, *self.rnn.state_dict().values())

    @property
    def grad_floor(self) -> float:
        """The scale of the upstream gradients (see :func:`assert_close`)."""
        return magnitude(self.grad_output, self.grad_h_n)


@st.composite
def rnn_cases(
    draw: st.DrawFn,
    *,
    num_layers: st.SearchStrategy[int] = layer_counts,
    bidirectional: st.SearchStrategy[bool] = flags,
    unbatched: st.SearchStrategy[bool] = flags,
    with_lengths: st.SearchStrategy[bool] = flags,
) -> Case:
    """A random ``RNN`` configuration, its weights, input, hx (or None) and lengths (or None).

    Lengths, when drawn, lie in [1, T] and come in a random order (not sorted by length).
    """
    L, K = draw(num_layers), 2 if draw(bidirectional) else 1
    T, D, H = draw(sizes(1, 6)), draw(sizes(1, 5)), draw(sizes(1, 5))
    rnn = RNN(
        D,
        H,
        L,
        nonlinearity=draw(nonlinearities),
        bias=draw(flags),
        batch_first=draw(flags),
        bidirectional=K == 2,
    )
    rnn.load_state_dict({name: draw(weights(p.shape, H)) for name, p in rnn.state_dict().items()})
    lengths = None
    if draw(unbatched):
        x_shape, h_shape = (T, D), (L * K, H)
    else:
        use_lengths = draw(with_lengths)
        N = draw(sizes(1 if use_lengths else 0, 4))
        x_shape = (N, T, D) if rnn.batch_first else (T, N, D)
        h_shape = (L * K, N, H)
        if use_lengths:
            drawn = draw(st.lists(sizes(1, T), min_size=N, max_size=N))
            lengths = np.array(draw(st.permutations(drawn)))
    return Case(
        rnn=rnn,
        x=draw(values(x_shape)),
        hx=draw(st.none() | values(h_shape)),
        lengths=lengths,
        grad_output=draw(values((*x_shape[:-1], K * H))),
        grad_h_n=draw(values(h_shape)),
    )


# -- helpers ----------------------------------------------------------------------------------


def assert_close(actual: Any, expected: Any, name: str = "", *, floor: float = 0.0) -> None:
    """``max |actual - expected| <= RTOL * scale + TINY``, scale ``max(max |expected|, floor)``.

    The floor is the scale of what the value is computed from, for values that come out far
    smaller than it: a hidden state whose pre-activation cancels to about 0 is known only to a
    rounding error of its terms (x, h and the weights); a gradient whose terms cancel, or that
    tanh's saturation damps (``1 - h**2`` is computed next to 1), only to a rounding error of its
    upstream gradient.
    """
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{name}: shape {actual.shape} != {expected.shape}"
    scale = max(float(np.abs(expected).max(initial=0.0)), floor)
    error = float(np.abs(actual - expected).max(initial=0.0))
    assert error <= RTOL * scale + TINY, f"{name}: max abs error {error:.3g}, scale {scale:.3g}"


def magnitude(*arrays: np.ndarray) -> float:
    """The largest absolute element of ``arrays`` (0 if they are empty)."""
    return max(float(np.abs(a).max(initial=0.0)) for a in arrays)


def batch_major(rnn: RNN, a: np.ndarray) -> np.ndarray:
    """``(T, N, .)`` <-> ``(N, T, .)`` unless ``rnn.batch_first``; the swap is its own inverse."""
    return a if rnn.batch_first else a.swapaxes(0, 1)


def reverse_within(a: np.ndarray, lengths: np.ndarray | None) -> np.ndarray:
    """Each sequence of ``a (N, T, .)`` reversed in time within its length; padding stays put."""
    out = np.array(a)
    for i, n in enumerate(np.full(len(a), a.shape[1]) if lengths is None else lengths):
        out[i, :n] = a[i, :n][::-1]
    return out


def core_gradients(p: Problem) -> tuple[np.ndarray, ...]:
    """``rnn_backward(p.dh, ...)`` of a fresh forward: ``dx, dh0, dWx, dWh, db``."""
    _, cache = p.forward()
    return rnn_backward(p.dh, cache)


GRADIENT_NAMES = ("dx", "dh0", "dWx", "dWh", "db")


# -- against torch ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def torch_rnn() -> Any:
    """torch's side of the parity checks; the test skips where torch is not installed."""
    pytest.importorskip("torch")
    from reference_rnn.oracles import torch as torch_oracle
    from reference_rnn.verify.cases import problem_for

    def run(rnn: RNN, *inputs: Any) -> dict[str, np.ndarray]:
        return torch_oracle.run(problem_for(rnn, *inputs))

    return run


@some
@given(p=problems())
def test_functional_core_matches_torch(torch_rnn: Any, p: Problem) -> None:
    """rnn_forward's h and rnn_backward's dx, dh0, dWx, dWh, db equal torch's to 1e-12."""
    N, _, D = p.x.shape
    H = p.Wx.shape[1]
    module = RNN(D, H, batch_first=True, nonlinearity=p.nonlinearity)
    module.load_state_dict(
        {
            "weight_ih_l0": p.Wx.T,
            "weight_hh_l0": p.Wh.T,
            "bias_ih_l0": p.b,
            "bias_hh_l0": np.zeros(H),
        }
    )
    theirs = torch_rnn(module, p.x, p.h0[None], None, p.dh, np.zeros((1, N, H)))

    h, cache = p.forward()
    dx, dh0, dWx, dWh, db = rnn_backward(p.dh, cache)
    floor = p.grad_floor
    assert_close(h, theirs["output"], "h", floor=p.value_floor)
    assert_close(dx, theirs["grad_input"], "dx", floor=floor)
    assert_close(dh0, theirs["grad_hx"][0], "dh0", floor=floor)
    assert_close(dWx, theirs["grad.weight_ih_l0"].T, "dWx", floor=floor)
    assert_close(dWh, theirs["grad.weight_hh_l0"].T, "dWh", floor=floor)
    assert_close(db, theirs["grad.bias_ih_l0"], "db", floor=floor)
    assert_close(db, theirs["grad.bias_hh_l0"], "db (bias_hh)", floor=floor)


@some
@given(case=rnn_cases())
def test_rnn_matches_torch(torch_rnn: Any, case: Case) -> None:
    """Over drawn configurations, RNN's output, h_n and every gradient equal torch's to 1e-12."""
    rnn = case.rnn
    theirs = torch_rnn(rnn, case.x, case.hx, case.lengths, case.grad_output, case.grad_h_n)

    output, h_n = rnn(case.x, case.hx, case.lengths)
    grad_input, grad_hx = rnn.backward(case.grad_output, case.grad_h_n)
    floor = case.grad_floor
    assert_close(output, theirs["output"], "output", floor=case.value_floor)
    assert_close(h_n, theirs["h_n"], "h_n", floor=case.value_floor)
    assert_close(grad_input, theirs["grad_input"], "grad_input", floor=floor)
    assert_close(grad_hx, theirs["grad_hx"], "grad_hx", floor=floor)
    assert rnn.grads.keys() == {k.removeprefix("grad.") for k in theirs if k.startswith("grad.")}
    for name, grad in rnn.grads.items():
        assert_close(grad, theirs[f"grad.{name}"], name, floor=floor)


# -- the functional core's algebra ------------------------------------------------------------


@some
@given(p=problems())
def test_steps_compose_to_forward(p: Problem) -> None:
    """rnn_step_forward applied T times gives rnn_forward's hidden states."""
    h, _ = p.forward()
    prev_h = p.h0
    for t in range(p.x.shape[1]):
        prev_h, _ = rnn_step_forward(
            p.x[:, t], prev_h, p.Wx, p.Wh, p.b, nonlinearity=p.nonlinearity
        )
        assert_close(prev_h, h[:, t], f"h[:, {t}]", floor=p.value_floor)


@some
@given(p=problems())
def test_unrolled_step_backward_sums_to_rnn_backward(p: Problem) -> None:
    """BPTT unrolled by hand from rnn_step_backward, gradients summed, equals rnn_backward."""
    T = p.x.shape[1]
    caches, prev_h = [], p.h0
    for t in range(T):
        prev_h, cache = rnn_step_forward(
            p.x[:, t], prev_h, p.Wx, p.Wh, p.b, nonlinearity=p.nonlinearity
        )
        caches.append(cache)
    dx = np.zeros_like(p.x)
    dWx, dWh, db = np.zeros_like(p.Wx), np.zeros_like(p.Wh), np.zeros_like(p.b)
    dnext = np.zeros_like(p.h0)
    for t in reversed(range(T)):
        dx[:, t], dnext, dWx_t, dWh_t, db_t = rnn_step_backward(p.dh[:, t] + dnext, caches[t])
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t

    for name, mine, theirs in zip(
        GRADIENT_NAMES, (dx, dnext, dWx, dWh, db), core_gradients(p), strict=True
    ):
        assert_close(mine, theirs, name, floor=p.grad_floor)


@some
@given(p=problems())
def test_batch_independence(p: Problem) -> None:
    """Each sequence of a batch gets the h, dx and dh0 it gets alone; weight gradients add up."""
    h, _ = p.forward()
    dx, dh0, dWx, dWh, db = core_gradients(p)
    floor = p.grad_floor
    sums = [np.zeros_like(dWx), np.zeros_like(dWh), np.zeros_like(db)]
    for i in range(p.x.shape[0]):
        h_i, cache_i = rnn_forward(
            p.x[i : i + 1], p.h0[i : i + 1], p.Wx, p.Wh, p.b, nonlinearity=p.nonlinearity
        )
        dx_i, dh0_i, *dW_i = rnn_backward(p.dh[i : i + 1], cache_i)
        assert_close(h_i[0], h[i], f"h[{i}]", floor=p.value_floor)
        assert_close(dx_i[0], dx[i], f"dx[{i}]", floor=floor)
        assert_close(dh0_i[0], dh0[i], f"dh0[{i}]", floor=floor)
        sums = [s + g for s, g in zip(sums, dW_i, strict=True)]
    for name, total, batch in zip(("dWx", "dWh", "db"), sums, (dWx, dWh, db), strict=True):
        assert_close(total, batch, name, floor=floor)


@some
@given(p=problems(), dh2=st.data(), a=st.floats(-3, 3))
def test_backward_is_linear_in_dh(p: Problem, dh2: st.DataObject, a: float) -> None:
    """rnn_backward(a * dh1 + dh2) == a * rnn_backward(dh1) + rnn_backward(dh2)."""
    dh1, dh2_arr = p.dh, dh2.draw(values(p.dh.shape))
    _, cache = p.forward()
    combined = rnn_backward(a * dh1 + dh2_arr, cache)
    floor = abs(a) * magnitude(dh1) + magnitude(dh2_arr)  # the terms', not the sum's, scale
    for name, g, g1, g2 in zip(
        GRADIENT_NAMES,
        combined,
        rnn_backward(dh1, cache),
        rnn_backward(dh2_arr, cache),
        strict=True,
    ):
        assert_close(g, a * g1 + g2, name, floor=floor)


@some
@given(p=problems())
def test_arguments_are_not_modified(p: Problem) -> None:
    """The forward and backward functions, step and sequence, leave their arguments unchanged."""
    arrays = (p.x, p.h0, p.Wx, p.Wh, p.b, p.dh)
    before = [a.copy() for a in arrays]
    _, cache = p.forward()
    rnn_backward(p.dh, cache)
    _, step_cache = rnn_step_forward(p.x[:, 0], p.h0, p.Wx, p.Wh, p.b, nonlinearity=p.nonlinearity)
    rnn_step_backward(p.dh[:, 0], step_cache)
    for name, a, b in zip(("x", "h0", "Wx", "Wh", "b", "dh"), arrays, before, strict=True):
        np.testing.assert_array_equal(a, b, err_msg=name)


@some
@given(p=problems(), other=problems())
def test_backward_is_repeatable(p: Problem, other: Problem) -> None:
    """rnn_backward twice on one cache, another cache used in between, gives identical results."""
    _, cache = p.forward()
    first = rnn_backward(p.dh, cache)
    _, other_cache = other.forward()
    rnn_backward(other.dh, other_cache)
    second = rnn_backward(p.dh, cache)
    for name, g1, g2 in zip(GRADIENT_NAMES, first, second, strict=True):
        np.testing.assert_array_equal(g1, g2, err_msg=name)


def result_dtypes(p: Problem, dtype: type) -> list[np.dtype]:
    """The dtypes of every state and gradient, step and sequence, for ``p``'s arrays as ``dtype``."""
    arrays = (p.x, p.h0, p.Wx, p.Wh, p.b, p.dh)
    if np.dtype(dtype).kind == "i":
        arrays = tuple(np.rint(a) for a in arrays)
    q = Problem(*(a.astype(dtype) for a in arrays), p.nonlinearity)
    h, cache = q.forward()
    step_h, step_cache = rnn_step_forward(
        q.x[:, 0], q.h0, q.Wx, q.Wh, q.b, nonlinearity=q.nonlinearity
    )
    results = [h, step_h, *rnn_backward(q.dh, cache), *rnn_step_backward(q.dh[:, 0], step_cache)]
    return [r.dtype for r in results]


@few
@given(p=problems())
def test_float32_stays_float32(p: Problem) -> None:
    """float32 inputs give float32 states and gradients, step and sequence."""
    assert set(result_dtypes(p, np.float32)) == {np.dtype(np.float32)}


@few
@given(p=problems())
def test_integers_become_float64(p: Problem) -> None:
    """Integer inputs give float64 states and gradients, step and sequence."""
    assert set(result_dtypes(p, np.int64)) == {np.dtype(np.float64)}


# -- RNN's sequence semantics -----------------------------------------------------------------


@few
@given(case=rnn_cases(unbatched=st.just(False), with_lengths=st.just(True)))
def test_lengths_equal_truncated_sequences(case: Case) -> None:
    """With lengths, each sequence gets what it gets alone, truncated to its length.

    Outputs past a length are zero, h_n and grad_hx are the sequence's own, grad_input is its own
    and zero past its length, and the parameter gradients are the sums over the sequences.
    """
    rnn, lengths = case.rnn, case.lengths
    assert lengths is not None
    output, h_n = rnn(case.x, case.hx, lengths)
    grad_input, grad_hx = rnn.backward(case.grad_output, case.grad_h_n)
    grads, floor = rnn.grads, case.grad_floor
    output, grad_input = batch_major(rnn, output), batch_major(rnn, grad_input)
    x, grad_output = batch_major(rnn, case.x), batch_major(rnn, case.grad_output)

    sums = {name: np.zeros_like(g) for name, g in grads.items()}
    for i, n in enumerate(lengths):
        hx_i = None if case.hx is None else case.hx[:, i : i + 1]
        out_i, h_n_i = rnn(batch_major(rnn, x[i : i + 1, :n]), hx_i)
        gin_i, ghx_i = rnn.backward(
            batch_major(rnn, grad_output[i : i + 1, :n]), case.grad_h_n[:, i : i + 1]
        )
        out_i, gin_i = batch_major(rnn, out_i), batch_major(rnn, gin_i)
        assert_close(output[i, :n], out_i[0], f"output[{i}]", floor=case.value_floor)
        assert not output[i, n:].any(), f"output[{i}] past length {n}"
        assert_close(h_n[:, i], h_n_i[:, 0], f"h_n[:, {i}]", floor=case.value_floor)
        assert_close(grad_input[i, :n], gin_i[0], f"grad_input[{i}]", floor=floor)
        assert not grad_input[i, n:].any(), f"grad_input[{i}] past length {n}"
        assert_close(grad_hx[:, i], ghx_i[:, 0], f"grad_hx[:, {i}]", floor=floor)
        sums = {name: sums[name] + g for name, g in rnn.grads.items()}
    for name, total in sums.items():
        assert_close(grads[name], total, name, floor=floor)


@few
@given(case=rnn_cases(num_layers=st.just(1), bidirectional=st.just(True), unbatched=st.just(False)))
def test_reverse_direction_is_forward_on_reversed_time(case: Case) -> None:
    """A single layer's reverse direction is the forward direction run on the reversed sequence.

    Each sequence is reversed within its length (lengths or not); outputs, h_n, grad_hx and the
    reverse parameters' gradients agree.
    """
    bi, lengths, H = case.rnn, case.lengths, case.rnn.hidden_size
    uni = RNN(
        bi.input_size,
        H,
        nonlinearity=bi.nonlinearity,
        bias=bi.bias,
        batch_first=bi.batch_first,
    )
    uni.load_state_dict(
        {
            name.removesuffix("_reverse"): p
            for name, p in bi.state_dict().items()
            if name.endswith("_reverse")
        }
    )
    hx = None if case.hx is None else case.hx[1:]

    def reverse(a: np.ndarray) -> np.ndarray:
        return batch_major(bi, reverse_within(batch_major(bi, a), lengths))

    output, h_n = bi(case.x, case.hx, lengths)
    _, grad_hx = bi.backward(case.grad_output, case.grad_h_n)
    uni_output, uni_h_n = uni(reverse(case.x), hx, lengths)
    _, uni_grad_hx = uni.backward(reverse(case.grad_output[..., H:]), case.grad_h_n[1:])

    floor = case.grad_floor
    assert_close(
        output[..., H:], reverse(uni_output), "output, reverse half", floor=case.value_floor
    )
    assert_close(h_n[1], uni_h_n[0], "h_n[1]", floor=case.value_floor)
    assert_close(grad_hx[1], uni_grad_hx[0], "grad_hx[1]", floor=floor)
    for name, grad in uni.grads.items():
        assert_close(bi.grads[f"{name}_reverse"], grad, f"{name}_reverse", floor=floor)
