"""What comes back from the worker process, as the checker takes it: trusting nothing but values.

- The worker's description of TARGET (its name, and which of the API's functions or methods it
  has) becomes the :class:`~reference_rnn.checker.apis.spec.Facts` from which the API's spec
  makes the plan here, in the checker.
- A call's outputs are taken only as the runner's spec declares them
  (:class:`~reference_rnn.checker.apis.spec.OutputSpec`): each of its names once, with its key;
  values finite, of the shape the reference's have, or else a problem. Which upstream gradient a
  value answers is decided here from its key, never taken from the worker.
- Every text (an exception's message, a name, a line the code printed) is cut short and made
  printable (:func:`~reference_rnn.checker.printing.printable`), so that no output can forge a
  line of the report.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from reference_rnn.checker.apis.calling import Observation, Output, final_state_only
from reference_rnn.checker.apis.spec import ApiSpec, Facts, OutputSpec, not_run
from reference_rnn.checker.battery import Case, expected_value
from reference_rnn.checker.catalogue import SEEN
from reference_rnn.checker.printing import printable
from reference_rnn.checker.process import WorkerLostError
from reference_rnn.core.validation import FloatArray

__all__ = [
    "OUTPUT_LINES",
    "facts",
    "failed",
    "observation",
    "output_lines",
    "printable",
]

#: The lines of captured output a report shows, and how much of each.
OUTPUT_LINES, OUTPUT_WIDTH = 20, 200
_DETAIL = 2000  # characters of a problem
_NAME = 100  # characters of a name
_NOTES = 10  # notes of one call, and stray functions named


def _lost(what: str) -> NoReturn:
    msg = f"the worker process sent back {what}"
    raise WorkerLostError(msg)


def facts(spec: ApiSpec, description: object) -> Facts:
    """The worker's description of TARGET, printable, and of ``spec``'s names only."""
    if not isinstance(description, dict):
        _lost("no description of TARGET")
    name, can_call, has = (description.get(k) for k in ("name", "callable", "has"))
    if not (isinstance(name, str) and isinstance(can_call, bool) and isinstance(has, list)):
        _lost("an unreadable description of TARGET")
    strays = _texts(description.get("strays", []), "module's functions")
    return Facts(
        printable(name, _NAME),
        can_call,
        frozenset(n for n in spec.attributes if n in has),
        tuple(printable(s, _NAME) for s in strays[:_NOTES]),
    )


def failed(case: Case, returns: Sequence[OutputSpec], reason: str) -> Observation:
    """A call on ``case`` that returned nothing: each output it has, failed for ``reason``."""
    return Observation(case, not_run(returns, reason))


def observation(
    case: Case, returns: Sequence[OutputSpec], header: dict[str, Any], arrays: list[FloatArray]
) -> Observation:
    """The outputs of a reply to a call on ``case``, as the runner's spec declares them."""
    items = header.get("outputs")
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        _lost("a reply without outputs")
    declared = {spec.name: spec for spec in returns}
    taken: dict[str, str] = {}  # name -> key
    for item in items:
        name, key = item.get("name"), item.get("key")
        if not (isinstance(name, str) and isinstance(key, str)) or name in taken:
            _lost("an unreadable or repeated output")
        spec = declared.get(name)
        allowed = () if spec is None else (spec.key, "h_last" if spec.or_last else spec.key)
        if key not in allowed:
            _lost(f"{printable(name, _NAME)} as {printable(key, _NAME)}, which the API has not")
        taken[name] = key
    missing = {spec.name for spec in returns if not spec.optional} - set(taken)
    if missing:
        _lost(f"no {', '.join(sorted(missing))}")
    if any(declared[name].key != key for name, key in taken.items()):
        case = final_state_only(case)  # the final state only: its backward took dL/dh_last only
    seen = _texts(header.get("seen", []), "findings")
    if not set(seen) <= SEEN:
        _lost("a finding the adapters do not make")
    notes = tuple(printable(note, _DETAIL) for note in _texts(header.get("notes", []), "notes"))
    outputs = [_output(item, case, arrays) for item in items]
    return Observation(case, outputs, tuple(seen), notes[:_NOTES])


def _texts(value: object, what: str) -> list[str]:
    if not (isinstance(value, list) and all(isinstance(item, str) for item in value)):
        _lost(f"unreadable {what}")
    return value


def _output(item: dict[str, Any], case: Case, arrays: list[FloatArray]) -> Output:
    key, name, index, problem = item["key"], item["name"], item.get("value"), item.get("problem")
    if not (index is None or (type(index) is int and 0 <= index < len(arrays))):
        _lost(f"an unreadable value of {name}")
    if not (problem is None or isinstance(problem, str)):
        _lost(f"an unreadable problem of {name}")
    value = None if index is None else np.asarray(arrays[index], dtype=np.float64)
    if problem is not None:
        return Output(key, name, value, printable(problem, _DETAIL))
    shape = expected_value(case.expected, key).shape
    if value is None or value.shape != shape:
        got = "nothing" if value is None else f"shape {value.shape}"
        return Output(key, name, None, f"{name} came back as {got}, expected shape {shape}")
    if not np.isfinite(value).all():
        return Output(key, name, None, f"{name} has NaN or inf")
    return Output(key, name, value)


def output_lines(path: Path) -> list[str]:
    """The first lines of the captured output, printable, and a line saying how much is left."""
    with path.open("rb") as file:
        head = file.read(OUTPUT_LINES * (OUTPUT_WIDTH + 1) * 4)
        size = file.seek(0, 2)
    lines = head.decode("utf-8", errors="replace").split("\n")  # a "\r" is shown, not obeyed
    if lines[-1] == "":
        lines.pop()  # the last line's end
    lines = [line.removesuffix("\r") for line in lines]
    shown = [printable(line, OUTPUT_WIDTH) for line in lines[:OUTPUT_LINES]]
    if len(lines) > OUTPUT_LINES or len(head) < size:
        shown.append(f"[{size} bytes in all: only the first {len(shown)} lines are shown]")
    return shown
