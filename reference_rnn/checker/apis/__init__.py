"""The user APIs the checker knows: one module each, and :func:`plan` to pick one.

- ``cs231n``: a module with ``rnn_step_forward(x, prev_h, Wx, Wh, b) -> (next_h, cache)``,
  ``rnn_step_backward(dnext_h, cache) -> (dx, dprev_h, dWx, dWh, db)``,
  ``rnn_forward(x, h0, Wx, Wh, b) -> (h, cache)`` and ``rnn_backward(dh, cache) -> (dx, dh0, dWx,
  dWh, db)``, the functional core's signatures.
- ``cs231n-torch``: the same four functions written with torch tensors (EECS 498-007), given
  CPU tensors of the case's dtype (``--api cs231n --tensors torch``).
- ``coursera``: the Deep Learning Specialization's ``rnn_cell_forward``, ``rnn_forward``,
  ``rnn_cell_backward`` and ``rnn_backward``, in the column layout with a ``parameters`` dict and
  a softmax output layer (:mod:`reference_rnn.checker.apis.coursera`).
- ``d2l``: Dive into Deep Learning's ``rnn(inputs, state, params)`` in torch, with a linear output
  layer; its gradients are torch's autograd through the code (:mod:`reference_rnn.checker.apis.d2l`).
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

from reference_rnn.checker.apis import coursera, cs231n, d2l, dlfs2, dlfs2_cell, sprint
from reference_rnn.checker.apis.calling import Plan

__all__ = ["APIS", "TENSORS", "plan", "with_tensors"]

#: the --api names, and each one's plan
_PLANS: dict[str, Callable[[object], Plan]] = {
    "cs231n": cs231n.plan,
    "cs231n-torch": cs231n.plan_tensors,
    "coursera": coursera.plan,
    "d2l": d2l.plan,
    "dlfs2": dlfs2.plan,
    "dlfs2-cell": dlfs2_cell.plan,
    "sprint": sprint.plan,
}
APIS = tuple(_PLANS)
#: What the code under test takes: NumPy arrays, or torch tensors.
TENSORS = ("numpy", "torch")
#: The APIs whose code takes torch tensors; and the torch form of a NumPy API.
_TAKE_TORCH = frozenset({"cs231n-torch", "d2l"})
_TORCH_FORM = {"cs231n": "cs231n-torch"}


def with_tensors(api: str, tensors: str | None) -> str:
    """The API ``api`` is when its code takes ``tensors`` (None: as the API has them).

    ``with_tensors("cs231n", "torch") == "cs231n-torch"``; ValueError where ``api`` has no
    such form.
    """
    if tensors is None or api not in _PLANS:
        return api
    if tensors not in TENSORS:
        msg = f"tensors must be one of {', '.join(TENSORS)}, got {tensors!r}"
        raise ValueError(msg)
    takes_torch = api in _TAKE_TORCH
    if tensors == "torch" and (takes_torch or api in _TORCH_FORM):
        return api if takes_torch else _TORCH_FORM[api]
    if tensors == "numpy" and not takes_torch:
        return api
    takes = "torch tensors" if takes_torch else "NumPy arrays"
    msg = f"tensors={tensors!r} does not apply to api {api!r}: its code takes {takes}"
    raise ValueError(msg)


def plan(api: str, obj: object) -> Plan:
    """How to check ``obj`` as an ``api`` implementation (one of :data:`APIS`)."""
    if api not in _PLANS:
        msg = f"api must be one of {', '.join(_PLANS)}, got {api!r}"
        raise ValueError(msg)
    return _PLANS[api](obj)
