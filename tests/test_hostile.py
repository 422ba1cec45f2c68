"""Hostile input: finite values that overflow, values that break only after a cast, side doors.

Two halves. The first holds each case that issue 18 lists, with its exact outcome: a named error
(its type, the argument or result it names) or the right result, and nothing changed, bit for bit.
The second is one property, drawn by hypothesis over every public entry point with extreme finite
values (up to the dtype's largest, subnormals), every kind of NumPy dtype, odd array kinds (masked,
matrix, memmap, read-only, non-contiguous, zero-size) and wrong types: the call raises a named
error or returns finite results equal to the float64 reference, and no argument changes.
"""

from __future__ import annotations

import dataclasses
import io
import re
import tempfile
import warnings
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import reference_rnn as rr
from reference_rnn import cli
from reference_rnn.core.functional import NonFiniteResultError
from reference_rnn.initializers import (
    HeInitializer,
    OrthogonalInitializer,
    SimpleInitializer,
    TorchInitializer,
    XavierInitializer,
)
from reference_rnn.models import RNNClassifier
from reference_rnn.optim import SGD, AdaGrad, Adam, RMSprop, clip_grad_norm, clip_grad_value
from reference_rnn.verify import plan
from reference_rnn.verify.golden import check_golden, golden_paths

#: The named errors of the contract.
NAMED = (ValueError, TypeError, FloatingPointError, RuntimeError)
#: Small enough that the file runs in a few seconds: CI runs it in nine NumPy sessions.
#: NumPy 1.23 warns before it makes an object array of a ragged list (which is then refused by
#: name); later releases refuse the list at once
pytestmark = pytest.mark.filterwarnings("ignore:Creating an ndarray from ragged")

SETTINGS = settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# -- bit for bit --------------------------------------------------------------------------------


def snapshot(value: Any) -> Any:
    """Everything observable of ``value``'s arrays: dtype, shape, bytes, writeable; recursively."""
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, value.tobytes(), value.flags.writeable)
    if isinstance(value, dict):
        return {key: snapshot(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [snapshot(item) for item in value]
    return repr(value)


@contextmanager
def unchanged(*values: Any) -> Iterator[None]:
    """Assert that ``values`` are the same, bit for bit, after the block (raising or not)."""
    before = snapshot(values)
    try:
        yield
    finally:
        assert snapshot(values) == before


def rng_args(N: int = 2, T: int = 3, D: int = 2, H: int = 3) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    shapes = {"x": (N, T, D), "h0": (N, H), "Wx": (D, H), "Wh": (H, H), "b": (H,)}
    return {name: rng.uniform(-0.5, 0.5, shape) for name, shape in shapes.items()}


# -- 1. finite inputs whose products overflow ---------------------------------------------------


def test_a_projection_that_is_inf_minus_inf_is_an_error_not_nan():
    a = rng_args(D=2)
    a["x"] = np.full((2, 3, 2), 1e300)
    a["Wx"] = np.array([[1e200] * 3, [-1e200] * 3])  # the exact projection is 0; computed, NaN
    with unchanged(a), pytest.raises(FloatingPointError) as info:
        rr.rnn_forward(**a)
    assert isinstance(info.value, NonFiniteResultError)
    assert re.match(  # inf - inf: NaN, or inf as OpenBLAS sums it
        r"the input projection x @ Wx \+ b overflowed at time step 0: it (is NaN|reached inf) in "
        "float64 from finite arguments",
        str(info.value),
    )
    assert "check_finite=False" in str(info.value)


def test_a_tanh_pre_activation_that_overflows_names_its_step():
    a = rng_args(H=4)
    a["h0"] = np.zeros((2, 4))
    a["x"] = np.full((2, 3, 2), 0.5)
    a["Wx"] = np.ones((2, 4))  # every state after step 0 is tanh(1) > 0
    a["Wh"] = np.full((4, 4), 1e308)  # step 1: 4 * tanh(1) * 1e308 is past float64
    with unchanged(a), pytest.raises(NonFiniteResultError, match=r"^the pre-activation .*"):
        rr.rnn_forward(**a)
    with pytest.raises(NonFiniteResultError, match="at time step 1: it reached inf in float64"):
        rr.rnn_forward(**a)
    step = {"x": a["x"][:, 0], "prev_h": np.ones((2, 4)), "Wx": a["Wx"], "Wh": a["Wh"], "b": a["b"]}
    with pytest.raises(NonFiniteResultError, match="at time step 0"):
        rr.rnn_step_forward(**step)
    h, _ = rr.rnn_forward(**a, check_finite=False)  # the documented opt-out: no check
    assert not np.isfinite(h).all() or np.isfinite(h).all()


def test_the_opt_out_turns_the_result_checks_off():
    a = rng_args(D=2)
    a["x"] = np.full((2, 3, 2), 1e300)
    a["Wx"] = np.array([[1e200] * 3, [-1e200] * 3])
    h, cache = rr.rnn_forward(**a, check_finite=False)  # no error: tanh of the inf is 1
    assert (h == 1).all()
    dx = rr.rnn_backward(np.full_like(h, 1e300), cache, check_finite=False)[0]
    assert dx.shape == a["x"].shape


def test_a_relu_rnn_with_large_weights_names_the_layer_and_direction_and_keeps_no_forward():
    rnn = rr.RNN(2, 3, num_layers=2, nonlinearity="relu", bidirectional=True, seed=0)
    x = np.ones((4, 1, 2))
    rnn.params["weight_hh_l1_reverse"] = np.full((3, 3), 1e300)
    params = rnn.state_dict()
    with unchanged(x), pytest.raises(NonFiniteResultError) as info:
        rnn(x)
    # the reverse direction runs from the last step, T - 1 = 3: its third step is step 1
    assert str(info.value).startswith(
        "the state overflowed at time step 1 (layer 1, reverse direction): it reached inf"
    )
    assert snapshot(rnn.state_dict()) == snapshot(params)
    with pytest.raises(RuntimeError, match="needs a successful forward first"):
        rnn.backward(np.ones((4, 1, 6)))  # no gradient from a forward that failed


def test_a_reverse_overflow_with_lengths_is_at_the_step_of_the_sequence_it_happened_in():
    rnn = rr.RNN(2, 4, bidirectional=True, seed=0)
    rnn.params["weight_ih_l0_reverse"] = np.ones((4, 2))
    rnn.params["weight_hh_l0_reverse"] = np.full((4, 4), 1e308)
    x = np.full((4, 2, 2), 0.5)
    with pytest.raises(
        NonFiniteResultError, match=r"at time step 1 \(layer 0, reverse direction\)"
    ):
        rnn(x, lengths=[3, 4])  # sequence 0 ends at step 2: its reverse step 1 is step 1


def test_padding_past_the_lengths_cannot_overflow():
    rnn = rr.RNN(2, 3, seed=0)
    x = np.zeros((3, 2, 2))
    x[2, 0] = 1e300  # padding of sequence 0 (length 2)
    rnn.params["weight_ih_l0"] = np.full((3, 2), 1e10)
    output, _ = rnn(x, lengths=[2, 3])
    assert np.isfinite(output).all()
    assert (output[2, 0] == 0).all()


def test_a_gradient_that_overflows_names_the_gradient_and_its_step():
    a = rng_args()
    a["x"] = np.zeros((2, 3, 2))
    a["h0"] = np.zeros((2, 3))
    a["b"] = np.zeros(3)
    a["Wh"] = np.zeros((3, 3))
    a["Wx"] = np.full((2, 3), 1e10)
    _h, cache = rr.rnn_forward(**a)
    dh = np.zeros((2, 3, 3))
    dh[:, 1] = 1e300  # dx_1 = dh_1 @ Wx.T reaches 3e310
    with unchanged(dh), pytest.raises(NonFiniteResultError) as info:
        rr.rnn_backward(dh, cache)
    assert str(info.value).startswith("the gradient dx overflowed at time step 1: it reached inf")
    rnn = rr.RNN(2, 3, seed=0)
    rnn.params["weight_ih_l0"] = np.full((3, 2), 1e10)
    rnn.params["weight_hh_l0"] = np.zeros((3, 3))
    _output, _ = rnn(np.zeros((3, 2, 2)))
    g = np.zeros((3, 2, 3))
    g[1] = 1e300
    with pytest.raises(NonFiniteResultError, match=r"^grad_input overflowed at time step 1 "):
        rnn.backward(g)
    relu = rr.RNN(2, 3, nonlinearity="relu", bias=False, seed=0)
    relu.params["weight_ih_l0"] = np.full((3, 2), 1e-100)
    relu.params["weight_hh_l0"] = np.zeros((3, 3))
    relu(np.full((3, 2, 2), 1e200))  # every state 2e100: dWx = x.T @ da reaches 6e500
    with pytest.raises(NonFiniteResultError) as info:
        relu.backward(np.full((3, 2, 3), 1e300))
    assert str(info.value).startswith(
        "the gradient of weight_ih_l0 overflowed (layer 0, forward direction): it reached inf"
    )


def test_an_rnn_layer_checks_the_projection_it_did_not_check_the_arguments_of():
    # RNN checks its arguments itself and asks the core for the result checks alone
    rnn = rr.RNN(2, 3, seed=0)
    rnn.params["weight_ih_l0"] = np.full((3, 2), 1e200)
    with pytest.raises(NonFiniteResultError) as info:
        rnn(np.full((3, 2, 2), 1e300))
    assert str(info.value).startswith(
        "the input projection x @ Wx + b overflowed at time step 0 (layer 0, forward direction): "
        "it reached inf"
    )


def test_a_relu_projection_that_overflows_is_the_state_that_overflows():
    a = rng_args(D=2)
    a["x"] = np.full((2, 3, 2), 1e300)
    a["Wx"] = np.full((2, 3), 1e200)  # finite arguments; relu(inf) is the state at step 0
    with unchanged(a), pytest.raises(NonFiniteResultError) as info:
        rr.rnn_forward(**a, nonlinearity="relu")
    assert str(info.value).startswith("the state overflowed at time step 0: it reached inf")


def test_finite_arguments_and_gradients_whose_sums_overflow_are_no_error():
    # Every state is 0, so dL/da = dL/dh: db is dh's one step, the other gradients are 0. The sums
    # that check dh and the gradients reach inf (2e308); each number is finite.
    zeros = {"x": (1, 1, 1), "h0": (1, 2), "Wx": (1, 2), "Wh": (2, 2), "b": (2,)}
    _, cache = rr.rnn_forward(**{name: np.zeros(shape) for name, shape in zeros.items()})
    dh = np.full((1, 1, 2), 1e308)
    with unchanged(dh):
        dx, dh0, dWx, dWh, db = rr.rnn_backward(dh, cache)
    np.testing.assert_array_equal(db, [1e308, 1e308])
    for grad in (dx, dh0, dWx, dWh):
        np.testing.assert_array_equal(grad, 0)


def test_simple_rnn_checks_its_results():
    a = rng_args(D=2)
    layer = rr.SimpleRNN(np.array([[1e200] * 3, [-1e200] * 3]), a["Wh"], a["b"])
    with pytest.raises(NonFiniteResultError, match=r"^the input projection"):
        layer.forward(np.full((2, 3, 2), 1e300))


# -- 2. checked after the cast ------------------------------------------------------------------


def test_a_float32_rnn_refuses_a_state_dict_value_that_is_inf_in_float32():
    rnn = rr.RNN(2, 3, dtype=np.float32, seed=0)
    state = rnn.state_dict()
    bad = {name: value.astype(np.float64) for name, value in state.items()}
    bad["weight_hh_l0"][0, 0] = 1e300
    with unchanged(bad), pytest.raises(ValueError, match="float32") as info:
        rnn.load_state_dict(bad)
    assert str(info.value).startswith(
        "state_dict['weight_hh_l0'] must be finite in float32 (the layer's dtype), got values "
        "that overflow it"
    )
    assert snapshot(rnn.state_dict()) == snapshot(state)


def test_from_torch_refuses_a_module_with_inf(torch: ModuleType):
    module = torch.nn.RNN(2, 3, dtype=torch.float32)
    with torch.no_grad():
        module.weight_hh_l0[0, 0] = float("inf")
    with pytest.raises(ValueError, match=r"^state_dict\['weight_hh_l0'\] must be finite"):
        rr.RNN.from_torch(module)


def test_a_bfloat16_tensor_loads_exactly_and_a_complex32_one_is_named(torch: ModuleType):
    rnn = rr.RNN(2, 3, seed=0)
    state = {name: torch.from_numpy(v).to(torch.bfloat16) for name, v in rnn.state_dict().items()}
    rnn.load_state_dict(state)
    for name, value in state.items():
        np.testing.assert_array_equal(rnn.params[name], value.double().numpy())
    before = rnn.state_dict()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch: ComplexHalf is experimental
        state["bias_hh_l0"] = torch.zeros(3, dtype=torch.complex32)
    with pytest.raises(
        TypeError,
        match=r"^state_dict\['bias_hh_l0'\] must be a real floating or integer tensor, got torch.c",
    ):
        rnn.load_state_dict(state)
    assert snapshot(rnn.state_dict()) == snapshot(before)


@pytest.mark.parametrize("make", [lambda: SGD(lr=0.1), Adam, AdaGrad, RMSprop])
def test_an_update_that_is_inf_after_the_cast_changes_nothing(make: Callable[[], Any]):
    optimizer = make()
    params = [np.ones(3, dtype=np.float32), np.ones(2, dtype=np.float32)]
    optimizer.update(params, [np.ones(3), np.ones(2)])  # a state to keep
    state = snapshot(optimizer.state)
    grads = [np.ones(3), np.array([1.0, 1e300])]
    with unchanged(params, grads), pytest.raises(ValueError, match="float32") as info:
        optimizer.update(params, grads)
    assert str(info.value).startswith(
        "grads[1] must be finite in float32 (params[1]'s dtype), got values that overflow it"
    )
    assert snapshot(optimizer.state) == state


def test_an_update_that_overflows_changes_nothing_not_even_the_first_parameter():
    optimizer = SGD(lr=1e10, momentum=0.9)
    params = [np.ones(3, dtype=np.float32), np.full(2, 1e30, dtype=np.float32)]
    grads = [np.ones(3, dtype=np.float32), np.full(2, -1e30, dtype=np.float32)]
    with unchanged(params, grads), pytest.raises(FloatingPointError) as info:
        optimizer.update(params, grads)
    assert str(info.value) == (
        "the update of params[1] overflowed: it is not finite in float32 (the gradient or a step "
        "too large for the dtype); nothing was updated"
    )
    assert optimizer.state == {}
    with pytest.raises(ValueError, match=r"^params\[0\] must be finite"):
        optimizer.update([np.array([np.nan])], [np.ones(1)])


def test_an_initializer_whose_weights_overflow_says_so():
    with pytest.raises(ValueError, match=r"^sigma = 1e\+308 is too large"):
        SimpleInitializer(1e308, seed=0).W(30, 30)


def test_clip_grad_norm_of_huge_gradients_is_right_not_zero():
    grads = [np.full(4, 1e300), np.full(4, -1e300)]
    total = clip_grad_norm(grads, 1.0)
    assert total == pytest.approx(np.sqrt(8) * 1e300)
    np.testing.assert_allclose(np.abs(np.concatenate(grads)), 1 / np.sqrt(8), rtol=1e-12)


# -- 3. read-only means read-only ---------------------------------------------------------------


def test_no_cache_array_and_no_handed_out_state_can_be_made_writeable():
    a = rng_args()
    h, cache = rr.rnn_forward(**a)
    _, step_cache = rr.rnn_step_forward(a["x"][:, 0], a["h0"], a["Wx"], a["Wh"], a["b"])
    rnn = rr.RNN(2, 3, num_layers=2, dropout=0.5, bidirectional=True, seed=0)
    output, h_n = rnn(np.ones((3, 2, 2)))
    layer = rr.SimpleRNN(a["Wx"], a["Wh"], a["b"], stateful=True)
    last = layer.forward(a["x"])
    arrays = [
        h,
        *(getattr(c, f.name) for c in (cache, step_cache) for f in dataclasses.fields(c)),
        output,
        h_n,
        *rnn.dropout_masks,
        last,
        layer.h,
    ]
    for arr in arrays:
        if isinstance(arr, np.ndarray):
            for view in (arr, arr.base):
                if isinstance(view, memoryview):
                    assert view.readonly
                else:
                    with pytest.raises(ValueError, match="cannot set WRITEABLE flag"):
                        view.flags.writeable = True  # type: ignore[union-attr]
    assert len(rnn.dropout_masks) == 1


def test_a_cache_not_made_by_a_forward_function_is_refused():
    a = rng_args()
    h, cache = rr.rnn_forward(**a)
    for fake in (
        dataclasses.replace(cache, nonlinearity="relu"),
        rr.RNNCache(x=1, x1=2, h=3, Wx=4, Wh=5, nonlinearity="tanh", step=False),  # type: ignore[arg-type]
    ):
        with pytest.raises(
            TypeError, match=r"^cache must be the cache returned by rnn_forward, got"
        ):
            rr.rnn_backward(np.ones_like(h), fake)
    with pytest.raises(TypeError, match=r"^cache must be the cache returned by rnn_step_forward"):
        rr.rnn_step_backward(np.ones((2, 3)), 1)  # type: ignore[arg-type]


# -- 4. RNN.params validates on write; train(mode); masked arrays -------------------------------


def test_rnn_params_check_every_write_and_refuse_deletion():
    rnn = rr.RNN(2, 3, dtype=np.float32, seed=0)
    before = rnn.state_dict()
    live = rnn.params["bias_ih_l0"]
    cases: list[tuple[Callable[[], object], type[Exception], str]] = [
        (
            lambda: rnn.params.__setitem__("bias_ih_l0", 1.0),
            ValueError,
            r"^params\['bias_ih_l0'\] must have shape \(3,\), got \(\)",
        ),
        (
            lambda: rnn.params.__setitem__("weight_ih_l0", np.ones((2, 3))),
            ValueError,
            r"^params\['weight_ih_l0'\] must have shape \(3, 2\), got \(2, 3\)",
        ),
        (
            lambda: rnn.params.__setitem__("weight_ih_l9", np.ones((3, 2))),
            ValueError,
            r"^params\['weight_ih_l9'\]: not a parameter",
        ),
        (
            lambda: rnn.params.__setitem__("bias_hh_l0", [1e300, 0, 0]),
            ValueError,
            r"^params\['bias_hh_l0'\] must be finite in float32",
        ),
        (
            lambda: rnn.params.__setitem__("bias_hh_l0", [np.nan, 0, 0]),
            ValueError,
            r"^params\['bias_hh_l0'\] must be finite",
        ),
        (
            lambda: rnn.params.__setitem__("bias_hh_l0", ["a", "b", "c"]),
            TypeError,
            r"^params\['bias_hh_l0'\] must be a real",
        ),
        (
            lambda: rnn.params.__delitem__("bias_hh_l0"),
            TypeError,
            r"^params\['bias_hh_l0'\] cannot be deleted",
        ),
        (lambda: rnn.params["nope"], KeyError, "'nope' is not a parameter of this RNN"),
    ]
    for call, error, message in cases:
        with pytest.raises(error, match=message):
            call()
    assert snapshot(rnn.state_dict()) == snapshot(before)
    rnn.params["bias_ih_l0"] = [1, 2, 3]  # array_like, cast to the layer's dtype, in place
    assert rnn.params["bias_ih_l0"] is live
    assert live.dtype == np.float32
    np.testing.assert_array_equal(live, [1, 2, 3])
    assert list(rnn.params) == list(before)
    assert len(rnn.params) == 4
    assert repr(rnn.params).startswith("Parameters({'weight_ih_l0': array(")


def test_train_takes_a_bool_only():
    rnn = rr.RNN(2, 3, seed=0).eval()
    with pytest.raises(TypeError, match=r"^mode must be a bool, got str"):
        rnn.train("no")  # type: ignore[arg-type]
    assert rnn.training is False
    assert rnn.train(np.bool_(True)).training is True


def test_masked_arrays_are_refused_with_what_to_do():
    a = rng_args()
    x = np.ma.masked_array(a["x"], mask=a["x"] > 0)
    message = r"^{} must not be a masked array \(its mask would be ignored\): pass {}\.filled"
    with pytest.raises(TypeError, match=message.format("x", "x")):
        rr.rnn_forward(x, a["h0"], a["Wx"], a["Wh"], a["b"])
    with pytest.raises(TypeError, match=message.format("input", "input")):
        rr.RNN(2, 3, batch_first=True)(x)
    with pytest.raises(TypeError, match=message.format("Wh", "Wh")):
        rr.SimpleRNN(a["Wx"], np.ma.masked_array(a["Wh"]), a["b"])


# -- 5. verify: a broken fixture is a failed row ------------------------------------------------


def broken_fixtures(directory: Path) -> dict[str, Path]:
    source = golden_paths()[0]
    data = source.read_bytes()
    paths = {name: directory / f"{name}.npz" for name in ("corrupt", "truncated", "config")}
    paths["corrupt"].write_bytes(b"not a zip file at all")
    paths["truncated"].write_bytes(data[: len(data) // 2])
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(paths["config"], "w") as tampered:
        for item in original.namelist():
            content = original.read(item)
            if item == "config.npy":  # a config that no longer describes the arrays
                buffer = io.BytesIO()
                np.save(buffer, np.array('{"name": "l1_tanh"}'))
                content = buffer.getvalue()
            tampered.writestr(item, content)
    return paths


def test_a_corrupt_truncated_or_tampered_fixture_is_an_error_that_says_which_and_why(tmp_path):
    for name, path in broken_fixtures(tmp_path).items():
        with pytest.raises(ValueError, match=f"^{name}.npz is not a readable golden fixture"):
            check_golden(path)


def test_verify_reports_a_broken_fixture_as_a_failed_row_and_runs_the_rest(tmp_path, monkeypatch):
    broken = broken_fixtures(tmp_path)
    good = next(path for path in golden_paths() if path.stem == "l1_tanh")  # an Elman cell's
    monkeypatch.setattr(plan, "golden_paths", lambda: [*broken.values(), good])
    rows = [p for p in plan.plan({}) if p.against == "golden fixture" and p.name.startswith("RNN")]
    assert [row.name for row in rows] == [f"RNN {p.stem}" for p in (*broken.values(), good)]
    for row in rows[:-1]:
        with pytest.raises(ValueError, match="is not a readable golden fixture"):
            row.measure()
    assert rows[-1].measure() <= rows[-1].tolerance
    report = plan.run(against=[])
    failed = {row.name: row.error for row in report.checks if not row.passed}
    assert set(failed) == {f"RNN {name}" for name in broken}
    assert all("not a readable golden fixture" in str(message) for message in failed.values())
    assert any(row.name == f"RNN {good.stem}" and row.passed for row in report.checks)


# -- 6. raw messages that now name the argument -------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda seed: SimpleInitializer(seed=seed),
        lambda seed: XavierInitializer(seed=seed),
        lambda seed: HeInitializer(seed=seed),
        lambda seed: TorchInitializer(seed=seed),
        lambda seed: OrthogonalInitializer(seed=seed),
        lambda seed: RNNClassifier(seed=seed),
        lambda seed: rr.RNN(2, 3, seed=seed),
    ],
)
def test_a_bad_seed_is_named(make: Callable[[object], object]):
    with pytest.raises(
        TypeError, match=r"^seed must be an int, a numpy\.random\.Generator or None, got 'abc'"
    ):
        make("abc")
    with pytest.raises(ValueError, match=r"^seed must be an int >= 0"):
        make(-1)


def test_the_classifier_names_bad_labels_and_an_optimizer_class():
    X = np.random.default_rng(0).uniform(size=(4, 3, 2))
    model = RNNClassifier(4, epochs=1, verbose=False, seed=0)
    with pytest.raises(
        TypeError, match=r"^y must hold integer, string or real labels, got dtype object"
    ):
        model.fit(X, np.array([1, "a", 2, None], dtype=object))
    with pytest.raises(ValueError, match=r"^y must not hold NaN or inf labels"):
        model.fit(X, np.array([1.0, np.nan, 1, 2]))
    with pytest.raises(TypeError, match=r"^optimizer must be an instance such as Adam"):
        RNNClassifier(optimizer=SGD)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^initializer must be an instance such as XavierInit"):
        RNNClassifier(initializer=XavierInitializer)  # type: ignore[arg-type]


# -- the property: every entry point, hostile arguments -----------------------------------------

FLOATS = [np.float16, np.float32, np.float64, np.longdouble]
EXACT = [np.int8, np.int64, np.uint16, np.bool_]  # become float64, exactly
REFUSED = [np.complex128, np.str_, np.bytes_, np.object_, np.dtype("datetime64[s]")]
WRONG = [None, "abc", {"a": 1}, object(), [1, [2, 3]], 1 + 2j, b"xx"]
_MEMMAP_DIR = tempfile.TemporaryDirectory()


def _kind(arr: np.ndarray, kind: str) -> Any:
    """``arr`` as an odd kind of array with the same values."""
    if kind == "read-only":
        arr = arr.copy()
        arr.flags.writeable = False
    elif kind == "non-contiguous" and arr.ndim:
        wide = np.repeat(arr, 2, axis=-1)
        arr = wide[..., ::2]
    elif kind == "matrix" and arr.ndim == 2:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PendingDeprecationWarning)
            return np.asmatrix(arr)
    elif kind == "memmap" and arr.size and arr.dtype.kind in "biuf":
        path = Path(_MEMMAP_DIR.name) / f"m{id(arr)}.dat"
        m = np.memmap(path, dtype=arr.dtype, mode="w+", shape=arr.shape)
        m[...] = arr
        return m
    elif kind == "masked":
        return np.ma.masked_array(arr)
    return arr


KINDS = ["plain", "read-only", "non-contiguous", "matrix", "memmap", "masked"]


@st.composite
def hostile(draw: st.DrawFn, shape: tuple[int, ...]) -> tuple[Any, str]:
    """A value for an argument of ``shape``: mostly right-shaped arrays of extreme values."""
    what = draw(st.sampled_from(["float", "float", "exact", "refused", "wrong", "shape"]))
    if what == "wrong":
        return draw(st.sampled_from(WRONG)), "wrong"
    if what == "shape":
        shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3))
    dtype = draw(
        st.sampled_from(
            FLOATS if what in ("float", "shape") else EXACT if what == "exact" else REFUSED
        )
    )
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        top = float(np.finfo(dtype).max)  # a Python float: compared with v, nothing is cast
        elements = st.floats(
            min_value=-1e308,
            max_value=1e308,
            allow_nan=False,
            allow_infinity=False,
            width=64,
            # each value rounded to the dtype here (its own subnormals kept): a float64 subnormal
            # stored in float32 is 0.0, which hypothesis refuses as a flush to zero (NumPy 1.23)
        ).map(lambda v: float(dtype.type(max(-top, min(top, v)))))
        arr = draw(hnp.arrays(dtype, shape, elements=elements))
    elif dtype.kind in "OSUM":
        arr = np.full(shape, dtype.type("1") if dtype.kind != "O" else None, dtype=dtype)
    else:
        arr = draw(hnp.arrays(dtype, shape))
    kind = draw(st.sampled_from(KINDS))
    return _kind(arr, kind), f"{what}:{dtype}:{kind}"


def raised(call: Callable[[], Any], *watched: Any) -> tuple[Any, Exception | None]:
    """``call()``'s result and None, or None and the named error it raised; ``watched`` is not
    changed either way."""
    with unchanged(*watched):
        try:
            return call(), None
        except NAMED as exc:
            return None, exc


def named_or_right(
    call: Callable[[dict[str, Any]], Any],
    args: dict[str, Any],
    name: str,
    value: Any,
    reference: Callable[[], Any] | None,
) -> None:
    """The property: ``call(args | {name: value})`` raises a named error or returns finite results
    equal to ``reference()``; ``value`` and the other arguments are not changed."""
    given_args = dict(args, **{name: value})
    results, error = raised(lambda: call(given_args), given_args)
    if error is not None:
        message = str(error)
        if isinstance(error, FloatingPointError):
            assert "overflowed" in message, message
        else:
            # the drawn argument, or one whose expected shape the drawn one set ("the shape of h")
            named = [name, *(n for n in args if "the shape of" in message)]
            assert any(re.search(rf"\b{re.escape(n)}\b", message) for n in named), (name, message)
        return
    results = results if isinstance(results, tuple) else (results,)
    for result in results:
        if isinstance(result, np.ndarray):
            assert result.dtype.kind == "f"
            assert np.isfinite(result).all()
    if reference is not None and _float64_like(value):
        for ours, expected in zip(results, reference(), strict=True):
            np.testing.assert_array_equal(ours, expected)


def moderate_arrays(shapes: dict[str, tuple[int, ...]]) -> dict[str, Any]:
    """Arguments of ``shapes`` drawn from U(-0.5, 0.5), the ones a drawn argument replaces."""
    rng = np.random.default_rng(0)
    return {name: rng.uniform(-0.5, 0.5, shape) for name, shape in shapes.items()}


def named_or_right_as_shown(
    call: Callable[[dict[str, Any]], Any],
    args: dict[str, Any],
    name: str,
    value: Any,
    reference: Callable[[], Any] | None,
) -> None:
    """:func:`named_or_right` for a drawn argument a message names otherwise: ``hx[0]`` as
    ``hx``, ``state_dict.weight_ih_l0`` as ``weight_ih_l0`` (the property looks for the name as a
    word)."""
    shown = name.replace("state_dict.", "").split("[")[0]
    args_shown = {(shown if k == name else k): v for k, v in args.items()}

    def renamed(a: dict[str, Any]) -> Any:
        return call({(name if k == shown else k): v for k, v in a.items()})

    named_or_right(renamed, args_shown, shown, value, reference)


def _float64_like(value: Any) -> bool:
    """Values whose computation is float64 and must equal the float64 reference exactly."""
    arr = np.asarray(value) if isinstance(value, np.ndarray) else None
    return arr is not None and (arr.dtype == np.float64 or arr.dtype.kind in "biu")


def _plain(value: Any) -> Any:
    return np.array(np.asarray(value), dtype=np.float64)


def _forward_backward(a: dict[str, Any]) -> tuple[Any, ...]:
    h, cache = rr.rnn_forward(a["x"], a["h0"], a["Wx"], a["Wh"], a["b"])
    return (h, *rr.rnn_backward(a["dh"], cache))


CORE = {"x": (2, 3, 2), "h0": (2, 3), "Wx": (2, 3), "Wh": (3, 3), "b": (3,), "dh": (2, 3, 3)}


@SETTINGS
@given(st.data())
def test_the_functions(data: st.DataObject):
    args = rng_args() | {"dh": np.ones((2, 3, 3))}
    name = data.draw(st.sampled_from(sorted(CORE)))
    value, _ = data.draw(hostile(CORE[name]))
    plain = dict(args)

    def reference() -> Any:
        return _forward_backward(plain | {name: _plain(value)})

    named_or_right(_forward_backward, args, name, value, reference)


def _step(a: dict[str, Any]) -> tuple[Any, ...]:
    h, cache = rr.rnn_step_forward(a["x"], a["prev_h"], a["Wx"], a["Wh"], a["b"])
    return (h, *rr.rnn_step_backward(a["dnext_h"], cache))


@SETTINGS
@given(st.data())
def test_the_step_functions(data: st.DataObject):
    a = rng_args()
    args = {"x": a["x"][:, 0], "prev_h": a["h0"], "Wx": a["Wx"], "Wh": a["Wh"], "b": a["b"]}
    args["dnext_h"] = np.ones((2, 3))
    shapes = {name: np.shape(v) for name, v in args.items()}
    name = data.draw(st.sampled_from(sorted(shapes)))
    value, _ = data.draw(hostile(shapes[name]))
    named_or_right(_step, args, name, value, lambda: _step(args | {name: _plain(value)}))


def _simple(a: dict[str, Any]) -> tuple[Any, ...]:
    layer = rr.SimpleRNN(a["Wx"], a["Wh"], a["b"])
    h = layer.forward(a["x"], a["h_prev"])
    return (h, layer.backward(a["dout"]), *layer.grads, layer.dh_prev)


@SETTINGS
@given(st.data())
def test_simple_rnn(data: st.DataObject):
    a = rng_args()
    args = {"Wx": a["Wx"], "Wh": a["Wh"], "b": a["b"], "x": a["x"], "h_prev": a["h0"]}
    args["dout"] = np.ones((2, 3))
    shapes = {name: np.shape(v) for name, v in args.items()}
    name = data.draw(st.sampled_from(sorted(shapes)))
    value, _ = data.draw(hostile(shapes[name]))
    named_or_right(_simple, args, name, value, lambda: _simple(args | {name: _plain(value)}))


def _rnn(a: dict[str, Any]) -> tuple[Any, ...]:
    rnn = rr.RNN(2, 3, num_layers=2, bidirectional=True, seed=0)
    rnn.load_state_dict({k[len("state_dict.") :]: v for k, v in a.items() if k.startswith("st")})
    output, h_n = rnn(a["input"], a["hx"], a["lengths"])
    grads = rnn.backward(a["grad_output"], a["grad_h_n"])
    return (output, h_n, *grads, *rnn.grads.values())


@SETTINGS
@given(st.data())
def test_rnn(data: st.DataObject):
    rnn = rr.RNN(2, 3, num_layers=2, bidirectional=True, seed=0)
    rng = np.random.default_rng(2)
    args: dict[str, Any] = {f"state_dict.{k}": v for k, v in rnn.state_dict().items()}
    args |= {
        "input": rng.uniform(-1, 1, (3, 2, 2)),
        "hx": rng.uniform(-1, 1, (4, 2, 3)),
        "grad_output": np.ones((3, 2, 6)),
        "grad_h_n": np.ones((4, 2, 3)),
        "lengths": np.array([3, 2]),
    }
    shapes = {name: np.shape(v) for name, v in args.items()}
    name = data.draw(st.sampled_from(sorted(shapes)))
    value, _ = data.draw(hostile(shapes[name]))
    shown = name.replace("state_dict.", "")  # the message says state_dict['weight_ih_l0']
    args_shown = {(shown if k == name else k): v for k, v in args.items()}

    def call(a: dict[str, Any]) -> Any:
        return _rnn({(name if k == shown else k): v for k, v in a.items()})

    reference = None if name == "lengths" else lambda: _rnn(args | {name: _plain(value)})
    named_or_right(call, args_shown, shown, value, reference)


OPTIMIZERS = [
    lambda: SGD(lr=0.1, momentum=0.9),
    Adam,
    AdaGrad,
    lambda: RMSprop(centered=True, momentum=0.5),
]


@SETTINGS
@given(st.data())
def test_optimizers_and_clipping(data: st.DataObject):
    make = data.draw(st.sampled_from(OPTIMIZERS))
    dtype = data.draw(st.sampled_from([np.float32, np.float64]))
    param = data.draw(hnp.arrays(dtype, (3,), elements=st.floats(-(2.0**100), 2.0**100, width=32)))
    grad, _ = data.draw(hostile((3,)))
    optimizer = make()
    params, grads = [param.copy(), np.ones(2, dtype)], [np.ones(3), np.ones(2)]
    optimizer.update(params, grads)  # a state to keep
    before = snapshot((params, optimizer.state))
    _, error = raised(lambda: optimizer.update(params, [grad, np.ones(2)]), grad)
    if error is not None:
        assert isinstance(error, FloatingPointError) or "grads[0]" in str(error), str(error)
        assert snapshot((params, optimizer.state)) == before
    else:
        assert all(np.isfinite(p).all() for p in params)
        assert all(
            np.isfinite(v).all()
            for s in optimizer.state.values()
            for v in s.values()
            if isinstance(v, np.ndarray)
        )
    clipped = [np.array(grad, copy=True)] if isinstance(grad, np.ndarray) else [grad]
    max_norm = data.draw(st.floats(0, 1e308))
    before = snapshot(clipped)

    def clip() -> float:
        total = clip_grad_norm(clipped, max_norm)
        clip_grad_value(clipped, max_norm)
        return total

    try:
        total, error = clip(), None
    except NAMED as exc:
        total, error = None, exc
    if error is not None:
        assert "grads[0]" in str(error), str(error)
        assert snapshot(clipped) == before  # a refused clip changes nothing
    else:
        assert np.isfinite(total)
        assert np.isfinite(clipped[0]).all()


@SETTINGS
@given(
    st.sampled_from(
        [
            SimpleInitializer,
            XavierInitializer,
            HeInitializer,
            TorchInitializer,
            OrthogonalInitializer,
        ]
    ),
    st.one_of(st.integers(-3, 40), st.sampled_from([*WRONG, 2.5, True])),
    st.one_of(st.none(), st.integers(-2, 2**64), st.sampled_from([*WRONG, 1.5])),
)
def test_initializers(kind: Any, size: Any, seed: Any):

    def draw() -> tuple[Any, Any]:
        init = kind(seed=seed)
        return init.W(size, 3), init.B(size)

    weights, error = raised(draw)
    if error is not None:
        assert re.search(r"\b(seed|n_nodes1|n_nodes2)\b", str(error)), str(error)
    else:
        W, B = weights
        assert W.shape == (size, 3)
        assert B.shape == (size,)
        assert np.isfinite(W).all()
        assert np.isfinite(B).all()


@settings(max_examples=10, deadline=None, database=None)
@given(st.data())
def test_the_classifier(data: st.DataObject):
    rng = np.random.default_rng(3)
    args = {"X": rng.uniform(-1, 1, (4, 2, 2)), "y": np.array([0, 1, 0, 1])}
    name = data.draw(st.sampled_from(["X", "y"]))
    value, _ = data.draw(hostile(np.shape(args[name])))

    def call(a: dict[str, Any]) -> Any:
        model = RNNClassifier(3, epochs=1, batch_size=2, verbose=False, seed=0)
        return model.fit(a["X"], a["y"]).predict_proba(a["X"])

    named_or_right(call, args, name, value, None)


@settings(max_examples=15, deadline=None, database=None)
@given(
    st.sampled_from(["verify", "check", "export"]),
    st.lists(
        st.text(alphabet="-abcxyz=,:/ ", min_size=1, max_size=8).map(
            lambda s: "--" + s.lstrip("-")
        ),
        min_size=1,
        max_size=3,
    ),
)
def test_cli_commands_refuse_unknown_options_with_a_usage_error(command: str, options: list[str]):
    """A command line argparse refuses: exit 2 and one line saying why, never a traceback."""
    stderr = io.StringIO()
    with redirect_stderr(stderr), redirect_stdout(io.StringIO()), pytest.raises(SystemExit) as info:
        cli.main([command, "--bogus-option", *options])
    assert info.value.code == 2
    assert "error:" in stderr.getvalue()
