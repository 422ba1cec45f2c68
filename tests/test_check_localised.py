"""What issue 17 asked of the checker on real people's code: localised, paired, honest names.

Each test plants what a person wrote (tests/planted.py) and asserts the names the checker gives,
in this process (``isolate=False``): tests/test_check_sealed.py runs code in a worker.
"""

from __future__ import annotations

from pathlib import Path

import planted
import pytest

from reference_rnn import testing
from reference_rnn.checker import remote
from reference_rnn.checker.apis import SPECS
from reference_rnn.checker.apis.calling import Output, stray_methods
from reference_rnn.checker.battery import make_case
from reference_rnn.checker.command import load_target
from reference_rnn.checker.evidence import Record, looks
from reference_rnn.checker.process import WorkerLostError


def check(obj: object, **options) -> testing.Report:
    if "cases" not in options:
        options.setdefault("seed", 0)  # the same battery every run: these tests need no other
    return testing.check(obj, isolate=False, **options)


def names(report: testing.Report) -> list[str]:
    return [diagnosis.mistake for diagnosis in report.diagnoses]


def test_a_mistake_in_forward_only_is_named_though_the_gradients_fail_otherwise():
    # Wh.T in forward, and a backward right for the untransposed layer (given those states)
    module = planted.cs231n()

    def rnn_forward(x, h0, Wx, Wh, b):
        h, (x, h0, Wx, _, states, a) = planted.forward(
            x, h0, Wx, Wh, b, "recurrent-weight-transposed"
        )
        return h, (x, h0, Wx, Wh, states, a)

    module.rnn_forward = rnn_forward
    report = check(module, api="cs231n")
    assert names(report) == ["recurrent-weight-transposed"], report.format()
    # the gradients: a backward right for the wrong states, which that mistake explains too
    assert report.unexplained == []


@pytest.mark.parametrize(
    "pair",
    [
        ("missing-bias", "derivative-of-preactivation"),
        ("recurrent-weight-transposed", "no-gradient-through-time"),
        ("ignores-initial-state", "gradients-averaged-over-batch"),
    ],
)
def test_two_mistakes_at_once_are_named_as_the_pair(pair):
    report = check(planted.make("cs231n", pair), api="cs231n")
    assert sorted(names(report)) == sorted(pair), report.format()
    assert report.unexplained == []


def test_a_pair_found_by_the_search_says_so():
    report = check(
        planted.make("sprint", ("missing-bias", "tanh-derivative-of-output")), api="sprint"
    )
    withs = {d.mistake: d.partner for d in report.diagnoses}
    assert withs == {
        "missing-bias": "tanh-derivative-of-output",
        "tanh-derivative-of-output": "missing-bias",
    }, report.format()
    assert "together with missing-bias" in report.format()


def test_gradients_averaged_over_the_batch_are_not_a_batch_of_one_mistake():
    report = check(planted.make("sprint", "gradients-averaged-over-batch"), api="sprint")
    assert names(report) == ["gradients-averaged-over-batch"]


def test_a_batch_whose_sequences_alone_are_wrong_too_is_not_batch_of_one_only():
    class Drifting(planted.make("sprint")):
        def forward(self, x, h_prev):
            return super().forward(x, h_prev) + 0.01 * x.shape[0] * (x.shape[0] > 1) + 0.001

    report = check(Drifting, api="sprint")
    assert "batch-of-one-only" not in names(report), report.format()


@pytest.mark.parametrize(("order", "form"), [(0, "(h_last, hs)"), (1, "(hs, h_last)")])
def test_sprint_reads_a_pair_of_the_final_state_and_every_state(order, form):
    class Pair(planted.make("sprint")):
        def forward(self, x, h_prev):
            hs = super().forward(x, h_prev)
            return (hs[:, -1], hs) if order == 0 else (hs, hs[:, -1])

    report = check(Pair, api="sprint")
    assert report.passed, report.format()
    assert f"forward returns {form}: hs is checked" in report.notes


def test_a_ragged_pair_is_described_in_the_users_terms():
    class Ragged(planted.make("sprint")):
        def forward(self, x, h_prev):
            hs = super().forward(x, h_prev)
            return hs, hs[:, :2]

    report = check(Ragged, api="sprint", cases=[make_case("one", 2, 3, 2, 4)])
    detail = report.checks[0].detail
    assert (
        detail == "h is a tuple of 2 (shapes (2, 3, 4), (2, 2, 4)) of unequal shapes, not one array"
    )


@pytest.mark.parametrize("api", ["dlfs2", "dlfs2-cell", "sprint"])
def test_a_backward_that_updates_the_weights_is_recognised_and_said_so(api):
    report = check(planted.make(api, "weights-updated-in-backward"), api=api)
    assert names(report) == ["weights-updated-in-backward"]
    (note,) = [n for n in report.notes if "changed the weights it was given in place" in n]
    assert "an optimizer of learning rate 0" in note


def test_a_dlfs2_method_indented_at_the_module_level_gets_the_hint():
    import stray_time_rnn

    report = check(stray_time_rnn.TimeRNN, api="dlfs2")
    failed = [c.name for c in report.checks if not c.passed and c.value == "exists"]
    assert failed == [
        "TimeRNN.backward: exists",
        "TimeRNN.set_state: exists",
        "TimeRNN.reset_state: exists",
    ]
    assert report.notes == [
        (
            "TimeRNN has no backward: the dlfs2 exercise asks for a backward "
            "(--forward-only checks forward alone)"
        ),
        *(
            f"TimeRNN has no {m}, but its module has a function {m}(self, ...): indented at the "
            "module level instead of inside the class?"
            for m in ("backward", "set_state", "reset_state")
        ),
    ]
    assert stray_methods(stray_time_rnn.TimeRNN) == ["set_state", "reset_state", "backward"]


def test_a_layer_that_keeps_what_it_built_for_the_first_length_fails_the_blocks():
    class FirstLength(planted.make("dlfs2")):
        def forward(self, xs):
            self.T = getattr(self, "T", xs.shape[1])
            return super().forward(xs[:, : self.T]) if xs.shape[1] > self.T else super().forward(xs)

    report = check(FirstLength, api="dlfs2")
    assert {c.case for c in report.checks if not c.passed} == {"stateful"}
    assert not report.passed


def test_the_worker_s_findings_and_notes_come_back_only_as_the_adapters_make_them():
    case = make_case("one", 1, 2, 2, 3)
    header = {"outputs": [], "seen": ["backward-is-generator"], "notes": ["a\\nnote"]}
    observation = remote.observation(case, (), header, [])
    assert observation.seen == ("backward-is-generator",)
    assert observation.notes == ("a\\nnote",)
    with pytest.raises(WorkerLostError, match="a finding the adapters do not make"):
        remote.observation(case, (), header | {"seen": ["missing-bias"]}, [])
    with pytest.raises(WorkerLostError, match="unreadable notes"):
        remote.observation(case, (), header | {"notes": [1]}, [])
    facts = {"name": "TimeRNN", "callable": True, "has": ["forward"], "strays": ["backward"]}
    assert remote.facts(SPECS["dlfs2"], facts).strays == ("backward",)


STUDENTS = Path(__file__).parents[1] / "examples" / "students"


@pytest.mark.parametrize(
    ("target", "api", "expected"),
    [
        ("rnn_layers.py", "cs231n", ["gradients-averaged-over-batch", "last-step-not-computed"]),
        (
            "simple_rnn.py:SimpleRNN",
            "sprint",
            ["weights-updated-in-backward", "recurrent-weight-transposed"],
        ),
        ("time_rnn.py:TimeRNN", "dlfs2", []),
    ],
)
def test_the_students_examples_are_named_for_their_mistakes(target, api, expected):
    report = check(load_target(str(STUDENTS / target)), api=api)
    assert names(report) == expected, report.format()
    assert not report.passed


def test_an_unexplained_failure_says_where_it_starts_and_what_it_looks_like():
    module = planted.cs231n()
    forward = module.rnn_forward

    def rnn_forward(x, h0, Wx, Wh, b):
        h, cache = forward(x, h0, Wx, Wh, b)
        if h.shape[1] > 4:
            h = h.copy()
            h[:, 4:] *= 1.5  # right for t < 4
        return h, cache

    module.rnn_forward = rnn_forward
    module.rnn_backward = lambda dh, cache: tuple(2 * g for g in planted.backward(dh, cache))
    report = check(module, api="cs231n")
    # each line: the check, "function: value of case name", then what it looks like
    shown = {
        ": ".join(part[:2]): part[2] for part in (line.split(": ", 2) for line in report.looks)
    }
    assert shown["rnn_forward: h of case batch-of-one"].endswith(
        "; h right for t < 4, wrong from t = 4 (of 6)"
    )
    assert shown["rnn_backward: dWx of case sample"].endswith(
        "(8 of 8 entries wrong); dWx is 2 times the reference's"
    )
    assert "right for t < 4" in report.format()


def test_a_last_step_left_at_zero_is_described_so():
    case = make_case("batch", 2, 5, 3, 4)
    right = case.expected["h"]
    h = right.copy()
    h[:, -1] = 0
    record = Record("batch/h", "", case, Output("h", "h", h), 1.0, False, print)
    assert looks(record, 1e-12) == (
        f"first mismatch at [0, 4, 0]: 0 where the reference has {right[0, 4, 0]:.6g} "
        "(8 of 40 entries wrong); h right for t < 4, wrong from t = 4 (of 5); "
        "h[:, T-1] is all zeros; the steps before are right"
    )


def test_many_checks_failed_by_one_exception_are_one_line_with_the_count():
    report = check(load_target(str(STUDENTS / "time_rnn.py:TimeRNN")), api="dlfs2")
    assert (
        "  7 checks (TimeRNN.forward: hs of case sample-h0, TimeRNN.forward: hs of case one-step, "
        "...): set_state(h0) raised AttributeError: "
        "'TimeRNN' object has no attribute 'set_state'"
    ) in report.format().splitlines()
