"""What a call of the code did besides returning values: what it did to the arrays it was given,
and the imports of the reference it tried (:func:`~reference_rnn.checker.apis.calling.refused`).

Either fails the outputs of the part of the call (forward, or backward) that did it, and is a
seen mistake (``modifies-its-arguments``, ``imports-the-reference``): right values from a call
that overwrote its caller's ``x``, ``dh`` or weights, or that asked the reference for them, do
not pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from reference_rnn.checker.apis.calling import ARGUMENTS, Output, copies, refused
from reference_rnn.checker.battery import Case
from reference_rnn.core.validation import FloatArray

__all__ = ["Audit"]


@dataclass
class Audit:
    """One call's arrays given to the code, and the refused imports before the part under way."""

    tried: int = field(default_factory=lambda: len(refused()))
    given: list[tuple[str, FloatArray, FloatArray]] = field(default_factory=list)

    def give(self, case: Case, owned: tuple[str, ...] = ()) -> tuple[FloatArray, ...]:
        """Fresh copies of ``case``'s x, h0, Wx, Wh, b and dh, to give the code: each is compared
        with the case's own after each part of the call, but those ``owned`` by the code (a
        layer's weights, its parameters from then on)."""
        arrays = copies(case)
        originals = (case.x, case.h0, case.Wx, case.Wh, case.b, case.dh)
        given = zip(ARGUMENTS, arrays, originals, strict=True)
        self.given += [item for item in given if item[0] not in owned]
        return arrays

    def after(self, part: str, outputs: list[Output], start: int, seen: list[str]) -> None:
        """After ``part`` of the call, whose outputs are ``outputs[start:]``: whether it tried to
        import the reference, or changed an array it was given (each said once)."""
        tries = refused()[self.tried :]
        self.tried += len(tries)
        if tries:
            seen.append("imports-the-reference")
            _fail(outputs, start, f"{part} tried to import {tries[0]}")
        changed = [
            name
            for name, given, original in self.given
            if given.shape != original.shape or not np.array_equal(given, original)
        ]
        self.given = [item for item in self.given if item[0] not in changed]
        if changed:
            seen.append("modifies-its-arguments")
            arguments = f"argument{'s' * (len(changed) > 1)} {', '.join(changed)}"
            _fail(outputs, start, f"{part} changed its {arguments} in place")


def _fail(outputs: list[Output], start: int, why: str) -> None:
    """``outputs[start:]`` failed for ``why``, but those that failed already."""
    outputs[start:] = [
        o if o.problem is not None else Output(o.key, o.name, o.value, why) for o in outputs[start:]
    ]
