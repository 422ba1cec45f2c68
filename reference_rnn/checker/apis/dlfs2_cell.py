"""``--api dlfs2-cell``: deep-learning-from-scratch-2's cell, ``RNN(Wx, Wh, b)``: one step.

``forward(x, h_prev) -> h_next``, ``backward(dh_next) -> (dx, dh_prev)``, ``.grads``.
"""

from __future__ import annotations

from typing import Any

from reference_rnn.checker.apis.calling import (
    Observation,
    UserCodeError,
    call_user,
    called_backward,
    class_name,
    copies,
    grads_attribute,
    not_run,
    one_step,
    output,
    plan_class,
    unpack,
    weights_changed,
)
from reference_rnn.checker.battery import Case

__all__ = ["plan", "run"]


def run(cls: Any, with_backward: bool, case: Case) -> Observation:
    N, _, D, H = case.shape
    x, h0, Wx, Wh, b, dh = copies(case)
    name = class_name(cls)
    grad_specs = [("dx", "dx"), ("dh0", "dh_prev"), ("dWx", "dWx")]
    grad_specs += [("dWh", "dWh"), ("db", "db")]
    try:
        layer = call_user(f"{name}(Wx, Wh, b)", lambda: cls(Wx, Wh, b))
        h_next = call_user("forward(x, h_prev)", lambda: layer.forward(x[:, 0], h0))
    except UserCodeError as exc:
        failed = not_run([("h", "h_next")], str(exc))
        return Observation(case, failed + not_run(grad_specs * with_backward, "not run"))
    outputs = [output("h", "h_next", h_next, (N, H), one_step)]
    if not with_backward:
        return Observation(case, outputs)
    seen: list[str] = []
    notes: list[str] = []
    try:
        back = called_backward("backward(dh_next)", lambda: layer.backward(dh[:, 0]), seen)
        weights_changed(name, (Wx, Wh, b), case, seen, notes)
        dx, dh_prev = unpack("backward(dh_next)", back, 2)
        outputs.append(output("dx", "dx", dx, (N, D), one_step))
        outputs.append(output("dh0", "dh_prev", dh_prev, (N, H)))
        outputs += grads_attribute(layer, D, H)
    except UserCodeError as exc:
        done = {output.key for output in outputs}
        outputs += not_run([spec for spec in grad_specs if spec[0] not in done], str(exc))
    return Observation(case, outputs, tuple(seen), tuple(notes))


plan = plan_class(run, one_step=True)
