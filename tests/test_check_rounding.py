"""The tolerance follows each case's conditioning (``Case.tolerance``): correct code passes on
ill-conditioned cases at any seed, in either dtype, and a mistake still fails there.

Each seed of a fixed list of 200 checks one API's correct example (the APIs in turn) on the
battery's ill-conditioned case, saturating, drawn from that seed (float64: the first 50); coursera's float32
example once failed its saturating case at seed 676089421 by rounding alone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reference_rnn.checker.apis import APIS
from reference_rnn.checker.battery import ROUNDING, battery
from reference_rnn.checker.runner import run
from reference_rnn.checker.target import load_target
from reference_rnn.core.measure import TOLERANCE

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
CORRECT = {
    "cs231n": "cs231n_rnn_layers.py",
    "cs231n-torch": "eecs498_rnn_torch.py",
    "coursera": "coursera_rnn_step_by_step.py",
    "d2l": "d2l_rnn_scratch.py:rnn",
    "dlfs2": "dlfs2_time_rnn.py:TimeRNN",
    "dlfs2-cell": "dlfs2_time_rnn.py:RNN",
    "sprint": "corrected_simple_rnn.py:SimpleRNN",
}
SEEDS = [int(s) for s in np.random.default_rng(27).integers(0, 2**32, 200)] + [676089421]
ILL = ("saturating",)  # the long case's conditioning is near the sample's


def ill_conditioned(dtype: str, seed: int):
    return [case for case in battery(dtype, seed=seed) if case.name in ILL]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_correct_examples_pass_ill_conditioned_cases_at_every_seed(request, dtype):
    request.getfixturevalue("torch")  # two of the examples are torch code
    assert set(CORRECT) == set(APIS)
    examples = {api: load_target(str(EXAMPLES / target)) for api, target in CORRECT.items()}
    failed, widened = [], 0
    for k, seed in enumerate(SEEDS if dtype == "float32" else SEEDS[:50]):
        api = APIS[k % len(APIS)]
        report = run(examples[api], api=api, dtype=dtype, cases=ill_conditioned(dtype, seed))
        failed += [(api, seed, c.name) for c in report.checks if not c.passed]
        widened += sum(c.tolerance > TOLERANCE[dtype] for c in report.checks)
    assert failed == []
    if dtype == "float32":  # its saturating cases are worse conditioned than its tolerance
        assert widened > 0


def test_the_seed_coursera_s_float32_example_once_failed_passes():
    example = load_target(str(EXAMPLES / CORRECT["coursera"]))
    report = run(example, api="coursera", dtype="float32", seed=676089421)
    assert report.passed, report.format()
    saturating = [c for c in report.checks if c.case == "saturating"]
    # its dx and da0 were 1.1e-05 and 3.4e-05 from the exact answer: rounding, on this case
    widest = max(c.tolerance for c in saturating)
    assert widest > 3.4e-5 > TOLERANCE["float32"]
    assert (
        report.format()
        .splitlines()[0]
        .endswith(
            f"tolerance 1e-05 (up to {widest:.0e} where a case is ill-conditioned: {ROUNDING} times "
            "what rounding moves the reference by there)"
        )
    )


def test_the_widened_tolerance_is_rounding_s_own_times_rounding_and_no_less_than_the_dtype_s():
    for dtype in ("float32", "float64"):
        for case in battery(dtype, seed=SEEDS[0]):
            precision = np.finfo(dtype).eps / np.finfo(np.float32).eps
            for key, moved in case.rounding.items():
                expected = max(TOLERANCE[dtype], ROUNDING * moved * precision)
                assert case.tolerance(key) == pytest.approx(expected, rel=1e-12)
        (saturating,) = [c for c in battery(dtype, seed=SEEDS[0]) if c.name == "saturating"]
        assert saturating.tolerance("h_last") == saturating.tolerance("h")


def test_a_mistake_still_fails_where_the_tolerance_is_widened():
    import planted

    wrong = planted.make("cs231n", "tanh-derivative-of-output")
    for seed in SEEDS[:5]:
        cases = ill_conditioned("float32", seed)
        report = run(wrong, api="cs231n", dtype="float32", cases=cases)
        assert [d.mistake for d in report.diagnoses] == ["tanh-derivative-of-output"]
        gradients = [c for c in report.checks if c.value == "dx" and c.case == "saturating"]
        assert gradients
        assert not any(c.passed for c in gradients)
