"""The checker's APIs: each declared once, in its spec, and everything else read from the specs.

The registry (``reference_rnn.checker.apis.SPECS``) is the one list of APIs: the ``Api`` literal
(which mypy needs spelled out), the docs' tables and the catalogue's applicability must agree
with it.
"""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest

from reference_rnn import testing
from reference_rnn.checker.apis import APIS, SPECS, spec, with_tensors
from reference_rnn.checker.catalogue import CATALOGUE, MISTAKES, SEEN

ROOT = Path(__file__).parents[1]


def test_the_api_literal_is_the_registry():
    assert typing.get_args(testing.Api) == APIS


def test_the_checking_docs_table_lists_exactly_the_registered_apis():
    text = (ROOT / "docs" / "checking.md").read_text(encoding="utf-8")
    table = text.split("## The APIs", 1)[1].split("\n\n", 2)[1]
    rows = [line for line in table.splitlines()[2:] if line.startswith("| `")]  # past the header
    assert [re.match(r"\| `([\w-]+)`", row)[1] for row in rows] == list(APIS)  # type: ignore[index]


def test_the_readme_table_lists_exactly_the_registered_apis():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    named = []
    for api, tensors, other in re.findall(
        r"--api ([\w-]+)(?: --tensors (\w+))?`(?: \(`([\w-]+)`\))?", text
    ):
        named += [with_tensors(api, tensors or None), *([other] if other else [])]
    assert sorted(set(named) & set(APIS)) == sorted(APIS)
    assert set(named) <= set(APIS)


@pytest.mark.parametrize("api", APIS)
def test_a_spec_s_runners_and_outputs_are_told_apart(api):
    declared = SPECS[api]
    assert declared.name == api
    labels = [runner.label for runner in declared.runners]
    assert len(set(labels)) == len(labels)  # the worker's runners are named by label
    for runner in declared.runners:
        returns = runner.returns(True)
        assert len({o.name for o in returns}) == len({o.key for o in returns}) == len(returns)
    if declared.torch_form is not None:
        assert SPECS[declared.torch_form].tensors == "torch"


def test_an_unknown_api_is_a_value_error():
    with pytest.raises(ValueError, match="api must be one of cs231n, cs231n-torch"):
        spec("keras")


def test_what_an_adapter_sees_is_catalogued_and_found_by_no_variant():
    assert set(MISTAKES) >= SEEN
    assert all(m.variant is None for m in CATALOGUE if m.id in SEEN)
    # the others without a variant are found by running the code again
    without_variant = {m.id for m in CATALOGUE if m.variant is None}
    again = {"batch-of-one-only", "reads-global-weights", "time-major-throughout"}
    assert without_variant - again == SEEN


def test_the_catalogue_s_applicability_read_from_the_specs_is_as_it_was_written():
    # the sets each mistake's apis were, by hand, before the specs said them (of those APIs)
    every = {"cs231n", "cs231n-torch", "coursera", "d2l", "dlfs2", "dlfs2-cell", "sprint"}
    sequence = every - {"dlfs2-cell"}
    by_hand = every - {"d2l"}
    expected = {
        "no-recurrence": sequence,
        "derivative-of-preactivation": by_hand,
        "no-gradient-through-time": sequence & by_hand,
        "state-not-carried": {"dlfs2"},
        "time-major-output": {"cs231n", "cs231n-torch", "dlfs2", "sprint"},
        "time-major-throughout": {"cs231n", "cs231n-torch", "dlfs2", "sprint"},
        "weights-updated-in-backward": {"dlfs2", "dlfs2-cell", "sprint"},
        "backward-is-generator": by_hand,
        "column-bias-gradient-flat": {"coursera"},
        "column-input-as-rows": {"coursera"},
        "leaves-the-graph": {"d2l"},
        "in-place-write": {"d2l"},
        "ignores-initial-state": every,
        "last-step-not-computed": sequence,
    }
    apis = {m.id: m.apis & every for m in CATALOGUE}
    assert {mistake: apis[mistake] for mistake in expected} == expected
