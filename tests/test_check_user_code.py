"""Code that crashes, returns nonsense or lacks methods fails checks; the checker never raises."""

from __future__ import annotations

import numpy as np
import planted
import pytest

from reference_rnn import testing
from reference_rnn.checker.battery import make_case


def check(obj: object, **options) -> testing.Report:
    """``testing.check`` in this process: these tests are about what the checker makes of the
    code's results; tests/test_check_sealed.py runs the code in a worker process."""
    if "cases" not in options:
        options.setdefault("seed", 0)  # the same battery every run: these tests need no other
    return testing.check(obj, isolate=False, **options)


def key(check: testing.Check) -> str:
    """A check by its case and value, the step functions' marked ``step:``: short to read here
    (the reports name it by the user's function: ``check.name``)."""
    step = "step:" if "_step_" in check.function else ""
    return f"{step}{check.case}/{check.value}" if check.case else f"{check.function}/{check.value}"


def keys(report: testing.Report, names: list[str]) -> list[str]:
    by_name = {check.name: key(check) for check in report.checks}
    return [by_name[name] for name in names]


def failed(report: testing.Report) -> dict[str, str | None]:
    return {key(check): check.detail for check in report.checks if not check.passed}


def subclass(base: type, **methods) -> type:
    return type("Broken", (base,), methods)


def raise_(*args, **kwargs):
    raise RuntimeError("boom")


SPRINT = planted.make("sprint")
TIME_RNN = planted.make("dlfs2")
CELL = planted.make("dlfs2-cell")
ONE = [make_case("one", 1, 3, 2, 4, seed=1)]  # a batch of one
TWO = [make_case("two", 2, 3, 2, 4, seed=2)]


def test_an_exception_is_a_failed_check_that_says_what_raised_what_and_where():
    report = check(subclass(SPRINT, forward=raise_), api="sprint", cases=ONE)
    assert not report.passed
    detail = failed(report)["one/h"]
    assert detail.startswith(
        "forward(x, h_prev) raised RuntimeError: boom (at test_check_user_code.py:"
    )
    assert 'raise RuntimeError("boom")' in detail
    # the gradients could not run: they fail too, and say why
    assert failed(report)["one/dx"] == "not run"


def test_an_exception_from_compiled_code_has_no_line_of_the_user_to_show():
    broken = type("Broken", (dict,), {"forward": SPRINT.forward})  # dict(Wx, Wh, b) raises
    detail = failed(check(broken, api="sprint", cases=ONE))["one/h"]
    assert detail.startswith("Broken(Wx, Wh, b) raised TypeError: ")
    assert "(at " not in detail


class Unreadable:
    """A value that NumPy cannot turn into an array, on every NumPy version."""

    def __array__(self, dtype=None, copy=None):
        raise ValueError("not an array")


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        (None, "h is a NoneType of dtype object, not real numbers"),
        ("states", "h is a str of dtype <U6, not real numbers"),
        # NumPy >= 1.24 refuses a ragged list; 1.23 makes an object array of it (with a warning)
        (
            [[1.0], [1.0, 2.0]],
            "h is a list of 2 of unequal shapes, not one array"
            if np.lib.NumpyVersion(np.__version__) >= "1.24.0"
            else "h is a list of 2 of dtype object, not real numbers",
        ),
        (
            np.zeros((1, 3)),
            "h has shape (1, 3); forward must return every state (N, T, H) = (1, 3, 4)",
        ),
        (Unreadable(), "h is a Unreadable that NumPy cannot read: not an array"),
        (np.full((1, 3, 4), np.nan), "h has NaN or inf"),
        (np.ones((1, 3, 4), dtype=complex), "of dtype complex128, not real numbers"),
    ],
)
def test_a_result_that_is_not_a_finite_array_of_the_right_shape_fails(returned, message):
    layer = subclass(SPRINT, forward=lambda *_: returned)
    report = check(layer, api="sprint", cases=ONE)
    assert message in failed(report)["one/h"]
    assert report.checks[0].max_error is None
    assert failed(report)["one/dx"] == "not run"


def test_a_gradient_of_the_wrong_shape_or_with_nan_fails_and_the_others_are_still_checked():
    def backward(self, dout):
        dx = SPRINT.backward(self, dout)
        self.grads[1] = self.grads[1].T[:, :2]
        self.grads[2] = self.grads[2] * np.nan
        return dx

    report = check(subclass(SPRINT, backward=backward), api="sprint", cases=ONE)
    assert failed(report) == {
        "one/dWh": "dWh has shape (4, 2), expected (4, 4)",
        "one/db": "db has NaN or inf",
    }
    assert report.diagnoses == []
    assert keys(report, report.unexplained) == ["one/dWh", "one/db"]


def test_grads_that_are_not_three_arrays_fail_every_gradient_but_dx():
    def backward(self, dout):
        dx = SPRINT.backward(self, dout)
        self.grads = {"Wx": 0}
        return dx

    report = check(subclass(SPRINT, backward=backward), api="sprint", cases=ONE)
    message = ".grads returned a dict, expected a tuple of 3"
    assert failed(report) == {"one/dWx": message, "one/dWh": message, "one/db": message}


def test_a_sprint_layer_without_dh_prev_is_checked_without_it():
    def backward(self, dout):
        dx = SPRINT.backward(self, dout)
        del self.dh_prev
        return dx

    report = check(subclass(SPRINT, backward=backward), api="sprint", cases=ONE)
    assert report.passed
    assert [key(c) for c in report.checks] == ["one/h", "one/dx", "one/dWx", "one/dWh", "one/db"]


def test_a_batch_of_one_returning_t_by_h_also_gets_its_dx_as_t_by_d():
    def forward(self, x, h_prev):
        return SPRINT.forward(self, x, h_prev)[0]  # (T, H), as the exercise's code

    def backward(self, dout):
        return SPRINT.backward(self, dout[None])[0]  # (T, D)

    layer = subclass(SPRINT, forward=forward, backward=backward)
    assert check(layer, api="sprint", cases=ONE).passed


def test_a_batch_that_returns_another_shape_is_batch_of_one_only_without_a_time_step():
    def forward(self, x, h_prev):
        h = SPRINT.forward(self, x, h_prev)
        return h if len(x) == 1 else h.reshape(-1, h.shape[-1])  # (N * T, H)

    report = check(subclass(SPRINT, forward=forward), api="sprint", cases=TWO)
    (diagnosis,) = report.diagnoses
    assert diagnosis.mistake == "batch-of-one-only"
    assert diagnosis.evidence.first_time_step is None
    assert diagnosis.evidence.error_vs_mistake is None


def test_missing_methods_and_functions():
    no_backward = type("NoBackward", (), {"__init__": SPRINT.__init__, "forward": SPRINT.forward})
    report = check(no_backward, api="sprint", cases=ONE)
    assert report.passed
    assert report.notes == ["forward only: NoBackward has no backward"]
    assert [key(c) for c in report.checks] == ["one/h"]

    report = check(object(), api="dlfs2")
    assert failed(report) == {"object.forward/exists": "object has no object.forward"}

    module = planted.cs231n()
    del module.rnn_step_forward, module.rnn_backward
    report = check(module, api="cs231n")  # the exercise asks for the backward functions
    assert failed(report) == {
        "rnn_step_forward/exists": "SimpleNamespace has no rnn_step_forward",
        "rnn_backward/exists": "SimpleNamespace has no rnn_backward",
    }
    assert report.notes == [
        (
            "no rnn_backward: the cs231n exercise asks for a backward "
            "(--forward-only checks rnn_forward alone)"
        )
    ]
    assert not report.forward_only
    report = check(module, api="cs231n", forward_only=True)
    assert failed(report) == {"rnn_step_forward/exists": "SimpleNamespace has no rnn_step_forward"}
    assert report.notes == ["forward only: no rnn_backward, so rnn_forward is checked alone"]
    assert not report.passed
    assert report.forward_only
    assert report.verdict.startswith("FAILED (forward only): ")


@pytest.mark.parametrize("step", ["rnn_step_forward", "rnn_forward"])
def test_cs231n_functions_that_raise_or_return_one_value(step):
    module = planted.cs231n()
    setattr(module, step, lambda x, _h0, Wx, *_: np.tanh(x @ Wx))  # no cache
    prefix, h = ("step:", "next_h") if step == "rnn_step_forward" else ("", "h")
    report = check(module, api="cs231n", cases=ONE)
    assert (
        failed(report)[f"{prefix}one/{h}"]
        == f"{step} returned an array of shape (1, {'4' if prefix else '3, 4'}), expected a tuple of 2"
    )
    assert failed(report)[f"{prefix}one/dx"] == f"not run: {step} failed"

    backward = step.replace("forward", "backward")
    module = planted.cs231n()
    setattr(module, backward, raise_)
    report = check(module, api="cs231n", cases=ONE)
    assert failed(report)[f"{prefix}one/db"].startswith(f"{backward} raised RuntimeError: boom")
    assert f"{prefix}one/{h}" not in failed(report)


def test_dlfs2_failures_at_each_stage():
    report = check(subclass(TIME_RNN, __init__=raise_), api="dlfs2", cases=ONE)
    assert failed(report)["one/hs"].startswith(
        "Broken(Wx, Wh, b, stateful=True) raised RuntimeError"
    )

    no_set_state = subclass(TIME_RNN, set_state=None)
    assert failed(check(no_set_state, api="dlfs2", cases=ONE))["one/hs"].startswith(
        "set_state(h0) raised TypeError"
    )

    def backward_without_dh(self, dhs):
        dxs = TIME_RNN.backward(self, dhs)
        del self.dh
        return dxs

    report = check(subclass(TIME_RNN, backward=backward_without_dh), api="dlfs2", cases=ONE)
    assert sorted(failed(report)) == ["one/dWh", "one/dWx", "one/db", "one/dh"]
    assert failed(report)["one/dh"].startswith(".dh raised AttributeError")

    no_backward = subclass(TIME_RNN, backward=None)
    report = check(no_backward, api="dlfs2")
    assert failed(report) == {
        "Broken.backward/exists": "test_check_user_code:Broken has no Broken.backward"
    }
    assert report.notes == [  # and no function backward(self, ...) in this module
        (
            "Broken has no backward: the dlfs2 exercise asks for a backward "
            "(--forward-only checks forward alone)"
        )
    ]
    assert [key(c) for c in report.checks if c.case == "stateful"] == ["stateful/hs"]


def test_dlfs2_blocks_from_a_set_state():
    blocks = make_case("blocks", 2, 5, 3, 4, seed=3, split=2)  # a random h0: set_state, not reset
    assert not blocks.zero_h0
    report = check(TIME_RNN, api="dlfs2", cases=[blocks])
    assert report.passed
    assert len(report.checks) == 6
    not_carried = planted.make("dlfs2", "state-not-carried")
    report = check(not_carried, api="dlfs2", cases=[blocks])
    # on this case alone, a second block from zeros is also a block that ignores its initial
    # state: nothing tells the two apart, and neither is named; the battery's other cases do
    assert report.diagnoses == []
    assert {m: keys(report, names) for m, names in report.consistent.items()} == {
        mistake: ["blocks/hs", "blocks/dxs", "blocks/dh", "blocks/dWx", "blocks/dWh", "blocks/db"]
        for mistake in ("ignores-initial-state", "state-not-carried")
    }
    report = check(not_carried, api="dlfs2", cases=[*testing.cases(stateful=True), blocks])
    assert [d.mistake for d in report.diagnoses] == ["state-not-carried"]


def test_dlfs2_cell_failures():
    report = check(subclass(CELL, forward=raise_), api="dlfs2-cell", cases=ONE)
    assert failed(report)["one/h_next"].startswith("forward(x, h_prev) raised RuntimeError")
    assert failed(report)["one/dh_prev"] == "not run"

    one_gradient = subclass(CELL, backward=lambda _self, dh_next: dh_next)
    report = check(one_gradient, api="dlfs2-cell", cases=ONE)
    assert (
        failed(report)["one/dx"]
        == "backward(dh_next) returned an array of shape (1, 4), expected a tuple of 2"
    )

    report = check(subclass(CELL, backward=None), api="dlfs2-cell", cases=ONE)
    assert failed(report) == {
        "Broken.backward/exists": "test_check_user_code:Broken has no Broken.backward"
    }
    report = check(subclass(CELL, backward=None), api="dlfs2-cell", cases=ONE, forward_only=True)
    assert report.passed
    assert report.notes == ["forward only: Broken has no backward"]
    assert report.verdict == "PASSED (forward only): 1 of 1 checks passed"


def test_the_user_code_printing_does_not_reach_stdout(capsys):
    def forward(self, x, h_prev):
        print("debugging", x.shape)
        return SPRINT.forward(self, x, h_prev)

    assert check(subclass(SPRINT, forward=forward), api="sprint", cases=ONE).passed
    assert capsys.readouterr().out == ""


def test_the_user_code_cannot_change_the_cases_or_what_it_returned():
    def forward(self, x, h_prev):
        out = SPRINT.forward(self, x.copy(), h_prev).copy()
        x[...] = 0  # scribbles on its input
        self.kept = out
        return out

    def backward(self, dout):
        self.kept[...] = 0  # and on what it returned before
        return SPRINT.backward(self, dout)

    case = make_case("one", 1, 3, 2, 4, seed=1)
    x = case.x.copy()
    report = check(subclass(SPRINT, forward=forward, backward=backward), api="sprint", cases=[case])
    np.testing.assert_array_equal(case.x, x)  # the checker's case is its own
    # scribbling on its own result is its business; on its input, the caller's: a mistake
    assert failed(report) == {"one/h": "forward changed its argument x in place"}
    assert [d.mistake for d in report.diagnoses] == ["modifies-its-arguments"]


def test_a_gradient_that_is_not_an_array_fails_its_check():
    def backward(self, dhs):
        TIME_RNN.backward(self, dhs)  # fills grads and dh, but returns nothing

    report = check(subclass(TIME_RNN, backward=backward), api="dlfs2", cases=ONE)
    assert failed(report) == {"one/dxs": "dxs is a NoneType of dtype object, not real numbers"}
