"""Issue 27: a mistake is named only on evidence that tells it apart.

Each implementation is written here as people wrote it (CS231n's four functions, the exercise's
SimpleRNN), independently of reference_rnn, and checked in this process; the asserted names
are what the code does, worked out by hand from the code, not from the checker.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import planted
import pytest

from reference_rnn import testing
from reference_rnn.checker.apis.calling import Output
from reference_rnn.checker.battery import make_case
from reference_rnn.checker.evidence import Record, looks


def check(obj: object, api: str = "cs231n") -> testing.Report:
    return testing.check(obj, api=api, isolate=False, seed=0)


def names(report: testing.Report) -> list[str]:
    return [diagnosis.mistake for diagnosis in report.diagnoses]


def cs231n(step_backward=None, *, alias=False, steps=None) -> SimpleNamespace:
    """CS231n's functions, the sequence functions calling the step functions, as the course has it.

    ``step_backward`` replaces the right one; ``alias``: rnn_forward keeps one state buffer and
    writes each new state into it, so every cache's ``prev_h`` is that buffer (at the end, the
    last state); ``steps``: rnn_backward raises for sequences longer than that.
    """

    def rnn_step_forward(x, prev_h, Wx, Wh, b):
        next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
        return next_h, (x, prev_h, Wx, Wh, next_h)

    def right_step_backward(dnext_h, cache):
        x, prev_h, Wx, Wh, next_h = cache
        da = dnext_h * (1 - next_h**2)  # (N, H)
        return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)

    rnn_step_backward = step_backward or right_step_backward

    def rnn_forward(x, h0, Wx, Wh, b):
        N, T, _ = x.shape
        h = np.zeros((N, T, Wh.shape[0]))
        caches = []
        prev_h = h0.copy()
        for t in range(T):
            next_h, cache = rnn_step_forward(x[:, t], prev_h, Wx, Wh, b)
            h[:, t] = next_h
            caches.append(cache)
            if alias:
                prev_h[:] = next_h  # the cache's prev_h is this buffer: overwritten
            else:
                prev_h = next_h
        return h, caches

    def rnn_backward(dh, caches):
        N, T, H = dh.shape
        if steps is not None and steps < T:
            raise ValueError("only short sequences")
        D = caches[0][0].shape[1]
        dx, dWx, dWh, db = np.zeros((N, T, D)), np.zeros((D, H)), np.zeros((H, H)), np.zeros(H)
        dprev_h = np.zeros((N, H))
        for t in reversed(range(T)):
            dx_t, dprev_h, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t] + dprev_h, caches[t])
            dx[:, t] = dx_t
            dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
        return dx, dprev_h, dWx, dWh, db

    return SimpleNamespace(
        rnn_step_forward=rnn_step_forward,
        rnn_step_backward=rnn_step_backward,
        rnn_forward=rnn_forward,
        rnn_backward=rnn_backward,
    )


def test_the_implementation_above_is_right():
    assert check(cs231n()).passed


def test_weight_gradients_all_zero_are_not_named_as_a_mistake_that_is_zero_only_somewhere():
    # zero where T = 1 or h0 = 0, weight-gradients-overwritten and dWh-missing-initial-state-term
    # differ from zeros everywhere else
    def zero_weight_gradients(dnext_h, cache):
        _x, _prev_h, Wx, Wh, next_h = cache
        da = dnext_h * (1 - next_h**2)
        return da @ Wx.T, da @ Wh.T, np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(Wh.shape[0])

    report = check(cs231n(zero_weight_gradients))
    assert names(report) == [], report.format()
    assert "rnn_backward: dWh of case batch-h0" in report.unexplained
    assert "rnn_step_backward: dWx of case batch-h0" in report.unexplained


def test_a_bias_gradient_summed_with_keepdims_is_not_the_unsummed_one():
    # (1, H): right values, another shape; only a batch of one gives the unsummed one that shape
    def keepdims(dnext_h, cache):
        x, prev_h, Wx, Wh, next_h = cache
        da = dnext_h * (1 - next_h**2)
        return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0, keepdims=True)

    report = check(cs231n(keepdims))
    assert "bias-gradient-not-summed" not in names(report), report.format()
    assert names(report) == []
    assert "rnn_backward: db of case batch" in report.unexplained
    assert (
        "rnn_step_backward: db of case sample: db has shape (1, 4), the reference (4,): the reference's values"
        in (report.looks)
    )


def test_an_aliased_state_is_not_dwh_uses_current_state_which_it_equals_at_one_step():
    # every cache's prev_h is the last state: at T = 1 that is the current state, h_t
    report = check(cs231n(alias=True))
    assert names(report) == [], report.format()
    assert {f"rnn_backward: dWh of case {c}" for c in ("one-step", "batch", "long")} <= set(
        report.unexplained
    )


def test_a_mistake_matched_only_where_nothing_tells_it_apart_is_consistent_not_shown():
    # dWh from h_t: right at one step of the sequence functions, where an aliased prev_h gives
    # the same; the sequences that would tell them apart raise
    def current_state(dnext_h, cache):
        x, _prev_h, Wx, Wh, next_h = cache
        da = dnext_h * (1 - next_h**2)
        return da @ Wx.T, da @ Wh.T, x.T @ da, next_h.T @ da, da.sum(axis=0)

    module = cs231n(steps=1)
    module.rnn_backward = cs231n(current_state, steps=1).rnn_backward
    report = check(module)
    assert names(report) == [], report.format()
    explains = ["rnn_backward: dWh of case one-step", "rnn_backward: dWh of case one-step-batch"]
    assert report.consistent == {"dWh-uses-current-state": explains}
    assert (
        f"consistent with dWh-uses-current-state, not shown: it explains {', '.join(explains)} "
        "only, where it cannot be told apart"
    ) in report.format()


def test_batch_of_one_only_is_not_named_where_a_batch_of_one_fails_too():
    # time-major states out and dh in: a batch of one of T > 1 steps fails as a batch does
    class TimeMajor(planted.make("dlfs2")):
        def forward(self, xs):
            return super().forward(xs).swapaxes(0, 1)  # (T, N, H)

        def backward(self, dhs):
            return super().backward(dhs.swapaxes(0, 1))  # read as (T, N, H)

    report = check(TimeMajor, api="dlfs2")
    assert "batch-of-one-only" not in names(report), report.format()
    assert not any(c.passed for c in report.checks if (c.case, c.value) == ("batch-of-one", "dxs"))


def test_a_mistake_the_catalogue_lacks_is_said_so_and_each_value_described():
    # dprev_h = da @ Wh, not da @ Wh.T: the last step's dx is right, the steps before are not
    def untransposed(dnext_h, cache):
        x, prev_h, Wx, Wh, next_h = cache
        da = dnext_h * (1 - next_h**2)
        return da @ Wx.T, da @ Wh, x.T @ da, prev_h.T @ da, da.sum(axis=0)

    module = cs231n(untransposed)
    report = check(module)
    assert names(report) == [], report.format()
    text = report.format()
    assert "\nFailed checks: no catalogued mistake explains these\n" in text
    # each line: the check, "function: value of case name", then what it looks like
    shown = {
        ": ".join(part[:2]): part[2] for part in (line.split(": ", 2) for line in report.looks)
    }
    # one line per value of each code: the step functions', then the sequence functions'
    assert list(shown) == [
        "rnn_step_backward: dprev_h of case sample",
        "rnn_backward: dx of case sample",
        "rnn_backward: dh0 of case sample",
        "rnn_backward: dWx of case sample",
        "rnn_backward: dWh of case sample",
        "rnn_backward: db of case sample",
    ]
    # the values, from the right backward above, on the exercise's sample (N=1, T=3, D=2, H=4)
    case = testing.cases()[0]
    right = cs231n()
    _, caches = right.rnn_forward(case.x, case.h0, case.Wx, case.Wh, case.b)
    dx = right.rnn_backward(case.dh, caches)[0]
    _, caches = module.rnn_forward(case.x, case.h0, case.Wx, case.Wh, case.b)
    user_dx = module.rnn_backward(case.dh, caches)[0]
    assert shown["rnn_backward: dx of case sample"] == (
        f"first mismatch at [0, 0, 0]: {user_dx[0, 0, 0]:.6g} where the reference has "
        f"{dx[0, 0, 0]:.6g} (4 of 6 entries wrong); dx right for t > 1, wrong from t = 1 back "
        "(of 3)"
    )
    assert "rnn_backward: dWx of case sample: first mismatch at [0, 0]: " in text
    assert shown["rnn_step_backward: dprev_h of case sample"].endswith(
        "(4 of 4 entries wrong)"
    )  # no time axis


def test_the_json_carries_each_diagnosis_description_and_the_unexplained_values(capsys):
    from reference_rnn.cli import main

    path = Path(__file__).parent / "planted_dwh_current.py"
    assert main(["check", f"{path}", "--api", "cs231n", "--seed", "0", "--json"]) == 1
    document = json.loads(capsys.readouterr().out)
    (diagnosis,) = document["diagnoses"]
    assert diagnosis["mistake"] == "dWh-uses-current-state"
    assert diagnosis["description"] == "dWh sums h_t.T @ da_t instead of h_{t-1}.T @ da_t"
    assert diagnosis["evidence"]["check"] == "rnn_step_backward: dWh of case sample"
    assert diagnosis["evidence"]["error_vs_mistake"] < 1e-12
    assert document["unexplained"] == document["looks"] == []
    assert document["consistent"] == {}


def time_major(step_module: SimpleNamespace) -> SimpleNamespace:
    """CS231n's sequence functions written time-major throughout: x (T, N, D), h and dh
    (T, N, H), dx (T, N, D), the steps as ``step_module``'s."""

    def rnn_forward(x, h0, Wx, Wh, b):
        states, caches, prev_h = [], [], h0
        for x_t in x:  # (N, D), t = 0, 1, ...
            prev_h, cache = step_module.rnn_step_forward(x_t, prev_h, Wx, Wh, b)
            states.append(prev_h)
            caches.append(cache)
        return np.stack(states), caches

    def rnn_backward(dh, caches):
        dxs, dWx, dWh, db = [], 0, 0, 0
        dprev_h = np.zeros_like(dh[0])
        for t in reversed(range(len(caches))):
            dx_t, dprev_h, dWx_t, dWh_t, db_t = step_module.rnn_step_backward(
                dh[t] + dprev_h, caches[t]
            )
            dxs.insert(0, dx_t)
            dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
        return np.stack(dxs), dprev_h, dWx, dWh, db

    return SimpleNamespace(
        **{**vars(step_module), "rnn_forward": rnn_forward, "rnn_backward": rnn_backward}
    )


def test_code_time_major_throughout_is_said_to_be_right_in_that_layout():
    report = check(time_major(cs231n()))
    assert names(report) == ["time-major-throughout"], report.format()
    (diagnosis,) = report.diagnoses
    assert diagnosis.evidence.detail.endswith("values are right in the time-major layout")
    # every failed check is the layout's: the step functions pass
    assert report.unexplained == []
    assert all(c.passed for c in report.checks if c.function.startswith("rnn_step_"))


def test_a_d2l_rnn_returning_a_list_of_per_step_outputs_is_checked_as_their_concatenation():
    torch = pytest.importorskip("torch")

    def rnn(inputs, state, params):  # d2l's, but the outputs kept as a list, one (N, q) per step
        W_xh, W_hh, b_h, W_hq, b_q = params
        (H,) = state
        outputs = []
        for X in inputs:
            H = torch.tanh(X @ W_xh + H @ W_hh + b_h)
            outputs.append(H @ W_hq + b_q)
        return outputs, (H,)

    report = check(rnn, api="d2l")
    assert report.passed, report.format()
    assert (
        "rnn returns its outputs as a list of one (N, q) tensor per step: checked as their torch.cat"
        in (report.notes)
    )


@pytest.mark.parametrize("form", ["one step short", "numpy arrays", "unequal shapes"])
def test_other_lists_of_outputs_are_not_read_as_per_step_outputs(form):
    torch = pytest.importorskip("torch")

    def rnn(inputs, state, params):
        W_xh, W_hh, b_h, W_hq, b_q = params
        (H,) = state
        outputs = []
        for X in inputs:
            H = torch.tanh(X @ W_xh + H @ W_hh + b_h)
            outputs.append(H @ W_hq + b_q)
        if form == "one step short":
            outputs = outputs[:-1]
        elif form == "numpy arrays":
            outputs = [Y.detach().numpy() for Y in outputs]
        else:
            outputs[-1] = outputs[-1][:, :1]
        return outputs, (H,)

    cases = [make_case("two-steps", 3, 2, 3, 5)]
    report = testing.check(rnn, api="d2l", isolate=False, cases=cases)
    assert not report.passed
    assert not any("per step" in note for note in report.notes)


@pytest.mark.parametrize("api", ["dlfs2", "dlfs2-cell", "sprint"])
@pytest.mark.parametrize("how", ["params", "attributes"])
def test_a_backward_that_rebinds_the_weights_updated_is_an_update(api, how):
    base = planted.make(api)

    class Rebinding(base):
        def __init__(self, Wx, Wh, b, **options):
            super().__init__(Wx, Wh, b, **options)
            self.Wx, self.Wh, self.b = Wx, Wh, b

        def backward(self, *args):  # an optimizer step instead of the gradients in .grads
            result = super().backward(*args)
            grads, self.grads = self.grads, [np.zeros_like(g) for g in self.grads]
            if how == "params":  # a new list of new arrays: the caller's stay as they were
                self.params = [p - 0.1 * g for p, g in zip(self.params, grads, strict=True)]
            else:
                self.Wx = self.Wx - 0.1 * grads[0]
            return result

    report = check(Rebinding, api=api)
    assert names(report) == ["weights-updated-in-backward"], report.format()
    assert any(".backward bound new values to the weights it was given" in n for n in report.notes)


def test_a_forward_mistake_explains_the_gradients_of_a_backward_right_for_its_states():
    # Wh.T in forward only; the backward, right, reads the cached states and Wh
    module = cs231n()

    def rnn_step_forward(x, prev_h, Wx, Wh, b):
        next_h = np.tanh(x @ Wx + prev_h @ Wh.T + b)
        return next_h, (x, prev_h, Wx, Wh, next_h)

    module.rnn_step_forward = rnn_step_forward

    def rnn_forward(x, h0, Wx, Wh, b):
        N, T, _ = x.shape
        h, caches, prev_h = np.zeros((N, T, Wh.shape[0])), [], h0
        for t in range(T):
            prev_h, cache = rnn_step_forward(x[:, t], prev_h, Wx, Wh, b)
            h[:, t] = prev_h
            caches.append(cache)
        return h, caches

    module.rnn_forward = rnn_forward
    report = check(module)
    assert names(report) == ["recurrent-weight-transposed"], report.format()
    assert report.unexplained == []
    (diagnosis,) = report.diagnoses
    assert diagnosis.checks_explained == len([c for c in report.checks if not c.passed])


def test_a_last_step_not_computed_that_crashes_at_one_step_is_named_for_that_crash_too():
    def rnn_forward(x, h0, Wx, Wh, b):
        T = x.shape[1]
        states, prev_h = [], h0
        for t in range(T - 1):  # one step short
            prev_h = np.tanh(x[:, t] @ Wx + prev_h @ Wh + b)
            states.append(prev_h)
        return np.stack([*states, np.zeros_like(states[0])], axis=1), None  # IndexError at T = 1

    module = cs231n()
    module.rnn_forward = rnn_forward
    del module.rnn_backward
    report = testing.check(module, api="cs231n", isolate=False, seed=0, forward_only=True)
    assert names(report) == ["last-step-not-computed"], report.format()
    assert report.unexplained == []
    assert "rnn_forward: h of case one-step" in [c.name for c in report.checks if not c.passed]


def test_two_mistakes_neither_shown_alone_are_named_as_the_pair():
    # one step short and from zeros, with a backward that cannot run: neither alone explains h
    class Layer(planted.make("sprint", ("last-step-not-computed", "ignores-initial-state"))):
        def backward(self, _dout):
            raise RuntimeError("not written yet")

    report = check(Layer, api="sprint")
    assert sorted(names(report)) == ["ignores-initial-state", "last-step-not-computed"], (
        report.format()
    )
    assert all(name.split(": ")[0].endswith("Layer.backward") for name in report.unexplained)


def test_a_value_of_another_shape_or_with_another_problem_is_described_so():
    case = make_case("batch", 2, 5, 3, 4)
    right = case.expected["db"]

    def line(value, problem):
        output = Output("db", "db", value, problem)
        return looks(Record("batch/db", "", case, output, None, False, print), 1e-12)

    assert line(right[None], "db has shape (1, 4), expected (4,)") == (
        "db has shape (1, 4), the reference (4,): the reference's values"
    )
    assert line(2 * right[None], "db has shape (1, 4), expected (4,)") == (
        "db has shape (1, 4), the reference (4,): other values"
    )
    # right values that failed for another reason (an argument changed in place): that reason
    # is the report's to say
    assert line(right, "backward changed its argument dh in place") is None
