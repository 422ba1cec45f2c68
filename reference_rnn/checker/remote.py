"""What comes back from the worker process, as the checker takes it: trusting nothing but values.

- The worker's description of TARGET (its name, and which functions or methods it has) becomes
  a *stand-in*: an object with those names and nothing behind them, from which the API's own
  :func:`~reference_rnn.checker.apis.plan` makes the plan here, in the checker. Running a runner
  on the stand-in gives the outputs a call of that API has when the user's code fails at once:
  the names and keys every reply must have, and the checks of a call that never came back.
- A call's outputs are taken only as the API defines them: each of the API's names once, with
  its key; values finite, of the shape the reference's have, or else a problem. Which upstream
  gradient a value answers is decided here from its key, never taken from the worker.
- Every text (an exception's message, a name, a line the code printed) is made printable and
  short, so that no output can forge a line of the report.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, NoReturn

import numpy as np

from reference_rnn.checker.apis.calling import Observation, Output
from reference_rnn.checker.apis.sprint import final_state_only
from reference_rnn.checker.battery import KEYS, Case, expected_value
from reference_rnn.checker.process import WorkerLostError
from reference_rnn.core.validation import FloatArray

__all__ = [
    "ATTRIBUTES",
    "OUTPUT_LINES",
    "SEEN",
    "failed",
    "observation",
    "output_lines",
    "printable",
    "stand_in",
]

#: What each API's plan reads of the object: the functions of a module, or a class's methods.
ATTRIBUTES = {
    "cs231n": ("rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward"),
    "cs231n-torch": ("rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward"),
    "coursera": ("rnn_cell_forward", "rnn_cell_backward", "rnn_forward", "rnn_backward"),
    "d2l": ("rnn",),
    "dlfs2": ("forward", "backward", "set_state", "reset_state"),
    "dlfs2-cell": ("forward", "backward"),
    "sprint": ("forward", "backward"),
}
#: The lines of captured output a report shows, and how much of each.
OUTPUT_LINES, OUTPUT_WIDTH = 20, 200
_DETAIL = 2000  # characters of a problem
_NAME = 100  # characters of a name
_NOTES = 10  # notes of one call, and stray functions named
#: What an API's adapter can see as it calls the code (catalogue ids).
SEEN = frozenset(
    {
        "weights-updated-in-backward",
        "backward-is-generator",
        "column-bias-gradient-flat",
        "column-input-as-rows",
        "leaves-the-graph",
        "in-place-write",
    }
)


def printable(text: str, limit: int) -> str:
    """``text`` on one line, control characters escaped, cut to ``limit`` characters."""
    shown = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text.expandtabs(4))
    return shown if len(shown) <= limit else f"{shown[: limit - 3]}..."


def _lost(what: str) -> NoReturn:
    msg = f"the worker process sent back {what}"
    raise WorkerLostError(msg)


class _Absent:
    """A stand-in's function: it has a name in the plan, and nothing behind it."""

    __stand_in__ = True

    def __call__(self, *_: object, **__: object) -> NoReturn:
        msg = "a stand-in is never called"
        raise NotImplementedError(msg)


_absent = _Absent()


def stand_in(api: str, facts: object) -> object:
    """An object with the name and the functions or methods the worker found, none callable."""
    if not isinstance(facts, dict):
        _lost("no description of TARGET")
    name, can_call, has = facts.get("name"), facts.get("callable"), facts.get("has")
    if not (isinstance(name, str) and isinstance(can_call, bool) and isinstance(has, list)):
        _lost("an unreadable description of TARGET")
    strays = _texts(facts.get("strays", []), "module's functions")
    members: dict[str, Any] = {n: _absent for n in ATTRIBUTES[api] if n in has}
    members["__stray_methods__"] = tuple(printable(s, _NAME) for s in strays[:_NOTES])
    name = printable(name, _NAME)
    if can_call:
        return type(name, (), {**members, "__init__": _absent, "__stand_in__": True})
    return SimpleNamespace(__name__=name, **members)


def failed(template: Observation, reason: str) -> Observation:
    """Every output of ``template``, failed for ``reason``."""
    return Observation(
        template.case, [Output(o.key, o.name, None, reason) for o in template.outputs]
    )


def observation(
    api: str, template: Observation, header: dict[str, Any], arrays: list[FloatArray]
) -> Observation:
    """The outputs of a reply to a call on ``template.case``, as the API defines them."""
    items = header.get("outputs")
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        _lost("a reply without outputs")
    keys = {o.name: o.key for o in template.outputs}  # the API's names and keys
    taken: dict[str, str] = {}  # name -> key
    for item in items:
        name, key = item.get("name"), item.get("key")
        if not (isinstance(name, str) and isinstance(key, str)) or name in taken:
            _lost("an unreadable or repeated output")
        allowed = {keys[name]} if name in keys else set(KEYS) - set(taken.values())
        if api == "sprint" and keys.get(name) == "h":
            allowed.add("h_last")  # a layer that returns the final state
        if key not in allowed:
            _lost(f"{printable(name, _NAME)} as {printable(key, _NAME)}, which the API has not")
        taken[name] = key
    if set(keys) - set(taken):
        _lost(f"no {', '.join(sorted(set(keys) - set(taken)))}")
    case = template.case
    if api == "sprint" and "h_last" in taken.values():  # its backward took dL/dh_last only
        case = final_state_only(case)
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
