"""The user APIs the checker knows: one module each, and :func:`plan` to pick one.

- ``cs231n``: a module with ``rnn_step_forward(x, prev_h, Wx, Wh, b) -> (next_h, cache)``,
  ``rnn_step_backward(dnext_h, cache) -> (dx, dprev_h, dWx, dWh, db)``,
  ``rnn_forward(x, h0, Wx, Wh, b) -> (h, cache)`` and ``rnn_backward(dh, cache) -> (dx, dh0, dWx,
  dWh, db)``, the functional core's signatures.
- ``dlfs2``: deep-learning-from-scratch-2's ``TimeRNN(Wx, Wh, b, stateful=False)``:
  ``forward(xs) -> hs``, ``backward(dhs) -> dxs``, ``.grads == [dWx, dWh, db]``, ``.dh``,
  ``set_state(h)``, ``reset_state()``. A nonzero initial state is given with ``stateful=True`` and
  ``set_state``; the case in two blocks feeds consecutive blocks to one stateful layer.
- ``dlfs2-cell``: that file's ``RNN(Wx, Wh, b)``: ``forward(x, h_prev) -> h_next``,
  ``backward(dh_next) -> (dx, dh_prev)``, ``.grads``. One step.
- ``sprint``: the exercise's ``SimpleRNN(Wx, Wh, b)``: ``forward(x, h_prev)`` returns the final
  state (N, H), every state (N, T, H), or (T, H) for a batch of one, as the exercise's code does;
  ``backward(dout)`` (optional) takes the gradient of what forward returned and returns dx, with
  ``.grads`` and, if the layer has it, ``.dh_prev``.

Each API module has ``plan(obj) -> Plan``: the runners that call ``obj`` through that API (see
:mod:`reference_rnn.checker.apis.calling`), what is not checked, and what is missing.
"""

from __future__ import annotations

from collections.abc import Callable

from reference_rnn.checker.apis import cs231n, dlfs2, dlfs2_cell, sprint
from reference_rnn.checker.apis.calling import Plan

__all__ = ["APIS", "plan"]

#: the --api names, and each one's plan
_PLANS: dict[str, Callable[[object], Plan]] = {
    "cs231n": cs231n.plan,
    "dlfs2": dlfs2.plan,
    "dlfs2-cell": dlfs2_cell.plan,
    "sprint": sprint.plan,
}
APIS = tuple(_PLANS)


def plan(api: str, obj: object) -> Plan:
    """How to check ``obj`` as an ``api`` implementation (one of :data:`APIS`)."""
    if api not in _PLANS:
        msg = f"api must be one of {', '.join(_PLANS)}, got {api!r}"
        raise ValueError(msg)
    return _PLANS[api](obj)
