"""Code with two or three mistakes at once, written as people write it (tests/buggy/), checked by
the real checker in its worker process: each mistake is named, with the others as its partners,
and nothing is left unexplained that a mistake accounts for.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reference_rnn import testing

BUGGY = Path(__file__).parent / "buggy"


def checked(target: str, api: str) -> testing.Report:
    return testing.check(str(BUGGY / target), api=api, seed=0)


def named(report: testing.Report) -> list[tuple[str, str | None]]:
    return [(d.mistake, d.partner) for d in report.diagnoses]


def test_two_mistakes_inside_one_backward_are_named_as_the_pair():
    report = checked("rnn_layers_two_in_backward.py", "cs231n")
    assert named(report) == [
        ("dWh-uses-current-state", "tanh-derivative-applied-twice"),
        ("tanh-derivative-applied-twice", "dWh-uses-current-state"),
    ], report.format()
    assert report.unexplained == []
    assert report.consistent == {}
    # the forward is right: every check of the states passes
    assert all(c.passed for c in report.checks if c.value in ("h", "next_h"))


def test_a_third_mistake_closes_what_a_pair_leaves():
    report = checked("rnn_layers_three_mistakes.py", "cs231n")
    assert named(report) == [
        ("missing-bias", "tanh-derivative-applied-twice+dWh-uses-current-state"),
        ("tanh-derivative-applied-twice", "missing-bias+dWh-uses-current-state"),
        ("dWh-uses-current-state", "missing-bias+tanh-derivative-applied-twice"),
    ], report.format()
    assert report.unexplained == []
    assert report.passed is False
    assert not any(c.passed for c in report.checks if c.value in ("h", "next_h"))


def test_a_backward_that_applies_the_derivative_twice_and_steps_the_weights_names_both():
    report = checked("time_rnn_twice_and_step.py:TimeRNN", "dlfs2")
    assert named(report) == [
        ("weights-updated-in-backward", None),
        ("tanh-derivative-applied-twice", None),
    ], report.format()
    assert report.unexplained == []
    by_mistake = {d.mistake: d for d in report.diagnoses}
    # the step leaves no weight gradients; dxs and dh show the derivative applied twice
    assert by_mistake["tanh-derivative-applied-twice"].evidence.output == "dxs"
    assert by_mistake["weights-updated-in-backward"].evidence.output == "dWx"


@pytest.mark.parametrize(
    ("target", "unexplained"),
    [
        ("sprint_ignores_h0.py:SimpleRNN", set()),
        # its backward reads dout as every step's gradient: not one of its values is explained
        ("sprint_ignores_h0_last.py:SimpleRNN", {"SimpleRNN.backward"}),
    ],
    ids=["every state", "the final state"],
)
def test_a_cs231n_style_sprint_layer_that_ignores_h0_is_named_for_its_sample_h0(
    target, unexplained
):
    report = checked(target, "sprint")
    assert named(report) == [("ignores-initial-state", None)], report.format()
    (diagnosis,) = report.diagnoses
    assert diagnosis.evidence.check == "SimpleRNN.forward: h of case sample-h0"
    assert diagnosis.evidence.error_vs_mistake == 0.0 or diagnosis.evidence.error_vs_mistake < 1e-15
    failed_forward = {
        c.name for c in report.checks if c.function.endswith("forward") and not c.passed
    }
    assert "SimpleRNN.forward: h of case sample-h0" in failed_forward
    assert not failed_forward & set(report.unexplained)
    assert {name.partition(":")[0] for name in report.unexplained} == unexplained
