"""The plan of an API that is a module of functions: pairs of a forward and its backward.

CS231n's module has ``rnn_step_forward``/``rnn_step_backward`` and ``rnn_forward``/
``rnn_backward``; Coursera's, ``rnn_cell_forward``/``rnn_cell_backward`` and the same sequence
pair. Each pair found is one runner; a missing forward is a failed check that it exists, a
missing backward means its forward is checked alone, and the plan says so.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from reference_rnn.checker.apis.calling import Plan, Runner

__all__ = ["Pair", "plan_pairs"]

#: (label, (forward's name, backward's name), one step): a pair a module may have.
Pair = tuple[str, tuple[str, str], bool]


def plan_pairs(
    module: object,
    pairs: Sequence[Pair],
    runner: Callable[
        [str, Callable[..., Any], Callable[..., Any] | None, tuple[str, str], bool], Runner
    ],
) -> Plan:
    """The plan for ``module``'s ``pairs``; ``runner(label, forward, backward, names, step)``."""
    result = Plan()
    for label, names, step in pairs:
        forward, backward = (getattr(module, name, None) for name in names)
        if not callable(forward):
            result.missing.append(names[0])
            continue
        if not callable(backward):
            backward = None
            result.notes.append(f"forward only: no {names[1]}, so {names[0]} is checked alone")
        result.runners.append(runner(label, forward, backward, names, step))
    return result
