"""``--api dlfs2``: deep-learning-from-scratch-2's ``TimeRNN(Wx, Wh, b, stateful=False)``.

``forward(xs) -> hs``, ``backward(dhs) -> dxs``, ``.grads == [dWx, dWh, db]``, ``.dh``,
``set_state(h)``, ``reset_state()``. A nonzero initial state is given with ``stateful=True`` and
``set_state``; the case in two blocks feeds consecutive blocks to one stateful layer.
"""

from __future__ import annotations

from typing import Any

from reference_rnn.checker.apis.calling import (
    Observation,
    Plan,
    UserCodeError,
    call_user,
    called_backward,
    class_name,
    copies,
    grads_attribute,
    not_run,
    output,
    plan_class,
    stray_methods,
    weights_changed,
)
from reference_rnn.checker.battery import Case

__all__ = ["plan", "run"]


def run(cls: Any, with_backward: bool, case: Case) -> Observation:
    N, T, D, H = case.shape
    x, h0, Wx, Wh, b, dh = copies(case)
    name = class_name(cls)
    s = case.split or 0  # for a case in two blocks, the checked call is the second block's
    stateful = bool(s) or not case.zero_h0
    grad_specs = [("dx", "dxs"), ("dh0", "dh"), ("dWx", "dWx")]
    grad_specs += [("dWh", "dWh"), ("db", "db")]
    try:
        layer = call_user(
            f"{name}(Wx, Wh, b, stateful={stateful})", lambda: cls(Wx, Wh, b, stateful=stateful)
        )
        if s:
            if case.zero_h0:
                # the lambdas look the method up inside call_user: it may not exist
                call_user("reset_state()", lambda: layer.reset_state())  # noqa: PLW0108
            else:
                call_user("set_state(h0)", lambda: layer.set_state(h0))
            call_user("forward(the first block)", lambda: layer.forward(x[:, :s]))
            if with_backward:
                call_user("backward(the first block)", lambda: layer.backward(dh[:, :s]))
        elif stateful:
            call_user("set_state(h0)", lambda: layer.set_state(h0))
        hs = call_user("forward(xs)", lambda: layer.forward(x[:, s:]))
    except UserCodeError as exc:
        failed = not_run([("h", "hs")], str(exc))
        return Observation(case, failed + not_run(grad_specs * with_backward, "not run"))
    outputs = [output("h", "hs", hs, (N, T - s, H))]
    if not with_backward:
        return Observation(case, outputs)
    seen: list[str] = []
    notes: list[str] = []
    try:
        dxs = called_backward("backward(dhs)", lambda: layer.backward(dh[:, s:]), seen)
        weights_changed(name, (Wx, Wh, b), case, seen, notes)
        outputs.append(output("dx", "dxs", dxs, (N, T - s, D)))
        outputs.append(output("dh0", "dh", call_user(".dh", lambda: layer.dh), (N, H)))
        outputs += grads_attribute(layer, D, H)
    except UserCodeError as exc:
        done = {output.key for output in outputs}
        outputs += not_run([spec for spec in grad_specs if spec[0] not in done], str(exc))
    return Observation(case, outputs, tuple(seen), tuple(notes))


_plan = plan_class(run, blocks=True)
#: What a TimeRNN must have besides forward: each missing one is a failed check.
METHODS = ("backward", "set_state", "reset_state")


def plan(cls: object) -> Plan:
    """The plan for a TimeRNN: a missing backward, set_state or reset_state is a failed check."""
    result = _plan(cls)
    if result.missing:
        return result
    name = class_name(cls)
    result.notes.clear()  # "forward only": here a missing backward is a failure
    strays = stray_methods(cls)
    for method in METHODS:
        if not callable(getattr(cls, method, None)):
            result.missing.append(f"{name}.{method}")
            if method in strays:
                result.notes.append(
                    f"{name} has no {method}, but its module has a function {method}(self, ...):"
                    " indented at the module level instead of inside the class?"
                )
    return result
