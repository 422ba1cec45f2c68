"""The user APIs the checker knows: one module each, declaring its :class:`ApiSpec` once.

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

:data:`SPECS` is the registry: adding an API is one module with its ``SPEC`` and one line in
``_REGISTERED``. :func:`plan` checks an object in this process (or the worker); the sandbox makes
its plan from the worker's :class:`~reference_rnn.checker.apis.spec.Facts` with
:meth:`ApiSpec.plan`.
"""

from __future__ import annotations

from functools import partial

from reference_rnn.checker.apis import coursera, cs231n, d2l, dlfs2, dlfs2_cell, sprint
from reference_rnn.checker.apis.calling import Plan
from reference_rnn.checker.apis.spec import ApiSpec, Bind, read_facts

__all__ = ["APIS", "SPECS", "TENSORS", "bind", "made_by", "plan", "spec", "with_tensors"]

_REGISTERED = (
    cs231n.SPEC,
    cs231n.TORCH_SPEC,
    coursera.SPEC,
    d2l.SPEC,
    dlfs2.SPEC,
    dlfs2_cell.SPEC,
    sprint.SPEC,
)
#: The --api names, and each one's spec.
SPECS: dict[str, ApiSpec] = {api.name: api for api in _REGISTERED}
APIS = tuple(SPECS)
#: What the code under test takes: NumPy arrays, or torch tensors.
TENSORS = ("numpy", "torch")


def spec(api: str) -> ApiSpec:
    """The spec of ``api`` (one of :data:`APIS`); ValueError for another name."""
    if api not in SPECS:
        msg = f"api must be one of {', '.join(SPECS)}, got {api!r}"
        raise ValueError(msg)
    return SPECS[api]


def with_tensors(api: str, tensors: str | None) -> str:
    """The API ``api`` is when its code takes ``tensors`` (None: as the API has them).

    ``with_tensors("cs231n", "torch") == "cs231n-torch"``; ValueError where ``api`` has no
    such form.
    """
    if tensors is None or api not in SPECS:
        return api
    if tensors not in TENSORS:
        msg = f"tensors must be one of {', '.join(TENSORS)}, got {tensors!r}"
        raise ValueError(msg)
    declared = SPECS[api]
    if tensors == declared.tensors:
        return api
    if tensors == "torch" and declared.torch_form is not None:
        return declared.torch_form
    takes = "torch tensors" if declared.tensors == "torch" else "NumPy arrays"
    msg = f"tensors={tensors!r} does not apply to api {api!r}: its code takes {takes}"
    raise ValueError(msg)


def bind(obj: object) -> Bind:
    """How a plan's runners call ``obj``: in this process."""
    return lambda runner, backward: partial(runner.run, obj, backward)


def plan(api: str, obj: object, *, forward_only: bool = False) -> Plan:
    """How to check ``obj`` as an ``api`` implementation, calling it in this process."""
    declared = spec(api)
    return declared.plan(read_facts(obj, declared), bind(obj), forward_only=forward_only)


def made_by(api: str, target: str, label: str, value: str) -> str:
    """The user's function or method that returned ``value`` in the runner labelled ``label``.

    ``made_by("cs231n", "mine", "step:", "dWh") == "rnn_step_backward"``; a class's method is
    ``TimeRNN.backward``; d2l's function is the one TARGET names. ``target`` is the report's,
    ``path/to/file.py:NAME`` for a class or a function.
    """
    declared = spec(api)
    runner = next(r for r in declared.runners if r.label == label)
    forward = value in {output.name for output in runner.outputs} or runner.backward is None
    made = runner.forward if forward else str(runner.backward)
    named = target.rpartition(":")[2]  # a class's name, or d2l's function's
    if declared.target == "class":
        made = f"{named}.{made}"
    elif declared.target == "function" and ":" in target:
        made = named
    return made
