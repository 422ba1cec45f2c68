"""The catalogue of well-known RNN mistakes: each a wrong variant of the reference.

The checker runs every variant on the same case as the user's code; where a check fails and the
user's result matches a variant's (see :mod:`reference_rnn.checker.diagnosis`), that mistake is named.
A variant is a whole wrong implementation, forward and backward, written the way the mistake is
usually made: it returns the same keys as :func:`reference_rnn.checker.battery.reference`. The ids are
fixed: tools read them.

Shapes: x (N, T, D), h0 (N, H), Wx (D, H), Wh (H, H), b (H,), dh and every state (N, T, H).

Long on purpose: the catalogue is one list, a mistake an entry, read as a whole.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from reference_rnn.checker.apis import SPECS
from reference_rnn.checker.apis.spec import ApiSpec
from reference_rnn.checker.battery import Case, Implementation, Inputs, Values, reference
from reference_rnn.checker.variants import (
    averaged,
    backward_with,
    float32_buffers,
    h0_gradient_zero,
    last_state_gradient_everywhere,
    last_step_not_computed,
    last_step_upstream_only,
    recurrent_weight_transposed,
    transposed,
    zero,
)

__all__ = [
    "CATALOGUE",
    "MISTAKES",
    "NEEDS",
    "SEEN",
    "Mistake",
    "applicable",
    "changed",
    "combined",
    "inside",
    "transformed",
]


def _apis(where: Callable[[ApiSpec], bool]) -> frozenset[str]:
    """The --api names whose spec is ``where``."""
    return frozenset(name for name, spec in SPECS.items() if where(spec))


# where a mistake can happen, read from each API's spec: all, those that run T > 1 steps
# themselves, classes that keep their weights, those whose backward is written by hand (d2l's is
# torch's autograd), those that return the states batch-first, (N, T, H), those given a case in
# two blocks, and those in the column layout
_ALL_APIS = _apis(lambda _: True)
_SEQUENCE_APIS = _apis(lambda spec: spec.sequence)
_LAYER_APIS = _apis(lambda spec: spec.target == "class")
_BY_HAND = _apis(lambda spec: spec.by_hand)
_AUTOGRAD = _ALL_APIS - _BY_HAND
_BATCH_FIRST = _apis(lambda spec: spec.sequence and spec.layout == "batch-first")
_BLOCKS = _apis(lambda spec: any(runner.blocks for runner in spec.runners))
_COLUMNS = _apis(lambda spec: spec.layout == "columns")


@dataclass(frozen=True)
class Mistake:
    """One catalogued mistake.

    variant : the wrong implementation, or None when the mistake is found by the user's code's
        own behaviour (``batch-of-one-only``: the batch against its sequences one at a time;
        ``reads-global-weights``: the code run again with one weight changed).
    apis : where it can happen; a one-step API cannot get the time loop wrong, and at one step
        ignoring ``h_prev`` is ``ignores-initial-state``.
    carries_state : False when the variant's mistake is to start each block from zeros.
    float32_values : the user's values must be float32 numbers, and are matched at float32's
        tolerance; only float64 checks can show it.
    phase : ``forward`` when the mistake is in the forward pass (its states differ), ``backward``
        when only the gradients do: a passed check of the states rules out only forward mistakes,
        and a passed gradient check only backward ones, where the user's own states were right.
    inputs, outputs : for a mistake that is the reference run on other inputs, or with some of its
        results changed, those two changes; such a mistake composes with any other (a pair of
        mistakes is searched for when no single one explains the failures).
    needs : what a case must have for its evidence to tell the mistake apart from something
        else the value could be (:data:`NEEDS`): ``steps``, T > 1 (at one step ``h_t`` is also the
        last state, dWh without its h0 term is zero, and a loop one step short leaves zeros); ``batch``, N > 1 (at a batch of one,
        an unsummed bias gradient is a summed one of shape (1, H)). Required only where the
        run has such a case: code that runs one step is shown by its one-step cases.
    """

    id: str
    description: str
    variant: Implementation | None
    apis: frozenset[str] = _ALL_APIS
    carries_state: bool = True
    float32_values: bool = False
    phase: str = "forward"
    inputs: Callable[[Inputs], Inputs] | None = None
    outputs: Callable[[Values, Inputs], Values] | None = None
    time_major: bool = False  # the states come back (T, N, H): compared so
    seen: bool = False  # the API's adapter sees it as it calls the code (Observation.seen)
    needs: frozenset[str] = frozenset()
    # at T = 1 it computes nothing, and code that then reads a state it never made raises: it
    # explains such a crash of the states on a one-step case, in code it is shown for
    raises_at_one_step: bool = False
    # a mistake inside a backward written by hand: its stages' choices (variants.STAGES)
    stages: tuple[tuple[str, str], ...] = ()

    @property
    def composable(self) -> bool:
        """A change of the inputs, outputs or layout only: it composes with any other mistake."""
        changes = (self.inputs, self.outputs)
        return any(c is not None for c in changes) or self.time_major or not self.carries_state


def transformed(
    inputs: Callable[[Inputs], Inputs] | None = None,
    outputs: Callable[[Values, Inputs], Values] | None = None,
    variant: Implementation = reference,
) -> Implementation:
    """``variant`` run on ``inputs(a)``, its results changed by ``outputs``."""

    def run(a: Inputs) -> Values:
        changed = a if inputs is None else inputs(a)
        values = variant(changed)
        return values if outputs is None else outputs(values, a)

    return run


def changed(
    id: str,
    description: str,
    apis: frozenset[str] = _ALL_APIS,
    *,
    inputs: Callable[[Inputs], Inputs] | None = None,
    outputs: Callable[[Values, Inputs], Values] | None = None,
    phase: str = "forward",
    float32_values: bool = False,
) -> Mistake:
    """The mistake that is the reference run on ``inputs(a)``, its results changed by ``outputs``."""
    return Mistake(
        id,
        description,
        transformed(inputs, outputs),
        apis,
        float32_values=float32_values,
        phase=phase,
        inputs=inputs,
        outputs=outputs,
    )


def inside(
    id: str,
    description: str,
    apis: frozenset[str],
    choices: dict[str, str],
    *,
    needs: frozenset[str] = frozenset(),
) -> Mistake:
    """A mistake inside a backward written by hand: its stages' ``choices`` (variants.STAGES)."""
    return Mistake(
        id,
        description,
        backward_with(**choices),
        apis,
        phase="backward",
        needs=needs,
        stages=tuple(sorted(choices.items())),
    )


def combined(*mistakes: Mistake) -> Mistake | None:
    """The code with every one of ``mistakes`` (two or three), or None where they do not make
    one code together, or three take in ``float32-buffers`` (whose values are matched loosely).

    Mistakes inside the backward (``stages``) make one backward where each is in a stage of its
    own; it, or the one other whole variant, runs through the changes of the inputs, results and
    layout of the others (:attr:`Mistake.composable`), applied in order. The phase is ``both``:
    any check where it differs from the reference can rule it out.
    """
    if len(mistakes) > 2 and any(m.float32_values for m in mistakes):
        return None  # its checks pass where it differs without ruling it out: too loose for three
    staged = [m for m in mistakes if m.stages]
    whole = [m for m in mistakes if not m.stages and not m.composable]
    stages = dict(choice for m in staged for choice in m.stages)
    if len(stages) < sum(len(m.stages) for m in staged) or len(whole) + bool(staged) > 1:
        return None  # two choices of one stage, or two whole variants: not one code
    base = backward_with(**stages) if staged else whole[0].variant if whole else reference
    assert base is not None
    variant = base
    for m in reversed([m for m in mistakes if m.composable]):  # the first's changes outermost
        variant = transformed(m.inputs, m.outputs, variant)
    return Mistake(
        "+".join(m.id for m in mistakes),
        "; and ".join(m.description for m in mistakes),
        variant,
        carries_state=all(m.carries_state for m in mistakes),
        float32_values=any(m.float32_values for m in mistakes),
        phase="both",
        time_major=any(m.time_major for m in mistakes),
        needs=frozenset().union(*(m.needs for m in mistakes)),
    )


_BACKWARD = "backward"
#: What a case may need to tell a mistake apart (``Mistake.needs``): T > 1, N > 1.
NEEDS: dict[str, Callable[[Case], bool]] = {
    "steps": lambda case: case.shape[1] > 1,
    "batch": lambda case: case.shape[0] > 1,
}
_STEPS, _BATCH = frozenset({"steps"}), frozenset({"batch"})


CATALOGUE = [
    changed(
        "ignores-initial-state",
        "the initial state (h0, h_prev) is not used: every sequence starts from zeros",
        inputs=zero("h0"),
    ),
    changed(
        "no-recurrence",
        "h_{t-1} @ Wh is missing: every step is tanh(x_t @ Wx + b)",
        _SEQUENCE_APIS,
        inputs=zero("Wh"),
    ),
    changed(
        "recurrent-weight-transposed",
        "h_{t-1} @ Wh.T instead of h_{t-1} @ Wh",
        inputs=transposed,
        outputs=recurrent_weight_transposed,
    ),
    changed("missing-bias", "the bias b is not added", inputs=zero("b")),
    inside(
        "derivative-of-preactivation",
        "tanh's derivative taken as 1 - a_t**2 of the pre-activation a_t, not 1 - h_t**2",
        _BY_HAND,
        {"slope": "preactivation"},
    ),
    inside(
        "dWh-uses-current-state",
        "dWh sums h_t.T @ da_t instead of h_{t-1}.T @ da_t",
        _BY_HAND,
        {"dWh-state": "current"},
        needs=_STEPS,
    ),
    inside(
        "no-gradient-through-time",
        "the gradient from step t + 1 (da_{t+1} @ Wh.T) is not added to dL/dh_t",
        _SEQUENCE_APIS & _BY_HAND,
        {"through-time": "no"},
    ),
    changed(
        "gradient-from-last-step-only",
        "only the last step's upstream gradient dh[:, -1] is used; the others are dropped",
        _SEQUENCE_APIS & _BY_HAND,
        phase=_BACKWARD,
        inputs=last_step_upstream_only,
    ),
    inside(
        "bias-gradient-not-summed",
        "db is not summed over the batch: shape (N, H) instead of (H,)",
        _BY_HAND,
        {"bias": "unsummed"},
        needs=_BATCH,
    ),
    changed(
        "initial-state-gradient-missing",
        "the gradient with respect to the initial state (dh0, dh_prev) is zero",
        _BY_HAND,
        phase=_BACKWARD,
        outputs=h0_gradient_zero,
    ),
    Mistake(
        "batch-of-one-only",
        "works for a batch of one only: a batch gives an error or other results than its "
        "sequences one at a time, which are right",
        None,
    ),
    Mistake(
        "reads-global-weights",
        "a weight passed in is not used: the code reads a global or another fixed array instead",
        None,
    ),
    Mistake(
        "state-not-carried",
        "a stateful layer starts each block from zeros instead of the previous block's last state",
        reference,
        _BLOCKS,
        carries_state=False,
    ),
    inside(
        "weight-gradients-overwritten",
        "dWx, dWh and db are assigned at each step instead of summed: only t = 0's are left",
        _SEQUENCE_APIS & _BY_HAND,
        {"weights": "overwritten"},
    ),
    changed(
        "float32-buffers",
        "float64 results pass through float32 arrays (deep-learning-from-scratch-2's "
        "np.empty(..., dtype='f'))",
        float32_values=True,
        outputs=float32_buffers,
    ),
    changed(
        "gradients-averaged-over-batch",
        "dWx, dWh and db are divided by the batch size N (a mean over the batch) instead of summed",
        _BY_HAND,
        phase=_BACKWARD,
        outputs=averaged,
    ),
    inside(
        "dWh-missing-initial-state-term",
        "dWh leaves out h0.T @ da_0: the state before t = 0 is taken as zeros in backward",
        _BY_HAND,
        {"dWh-state": "no-initial"},
        needs=_STEPS,
    ),
    changed(
        "last-state-gradient-at-every-step",
        "the last state's upstream gradient dh[:, -1] is added at every step, as if the loss "
        "summed every state",
        _SEQUENCE_APIS & _BY_HAND,
        phase=_BACKWARD,
        inputs=last_state_gradient_everywhere,
    ),
    inside(
        "tanh-derivative-applied-twice",
        "tanh's derivative (1 - h_t**2) multiplied in twice",
        _BY_HAND,
        {"twice": "yes"},
    ),
    inside(
        "tanh-derivative-of-output",
        "tanh applied once more in the derivative: 1 - tanh(h_t)**2 instead of 1 - h_t**2",
        _BY_HAND,
        {"slope": "tanh-of-output"},
    ),
    Mistake(
        "last-step-not-computed",
        "the time loop stops one step early: h[:, T-1] stays zero (and T = 1 computes nothing)",
        last_step_not_computed,
        _SEQUENCE_APIS,
        needs=_STEPS,  # at T = 1 every value is zero: not computed, for any reason
        raises_at_one_step=True,
    ),
    Mistake(
        "time-major-output",
        "the states are returned time-major (T, N, H) where (N, T, H) is expected",
        reference,
        _BATCH_FIRST,
        time_major=True,
    ),
    Mistake(
        "time-major-throughout",
        "x, dh and every per-step result are time-major, (T, N, ...), where the API is "
        "batch-first, (N, T, ...): the values are right in the time-major layout",
        None,
        _BATCH_FIRST,
    ),
    Mistake(
        "weights-updated-in-backward",
        "backward updates the weights itself (an optimizer step) instead of only filling .grads",
        None,
        _LAYER_APIS,
        phase=_BACKWARD,
        seen=True,
    ),
    Mistake(
        "backward-is-generator",
        "backward is a generator (it has a yield): calling it runs none of its body",
        None,
        _BY_HAND,
        phase=_BACKWARD,
        seen=True,
    ),
    Mistake(
        "column-bias-gradient-flat",
        "dba is returned as (n_a,) where the column layout has (n_a, 1), as ba is given",
        None,
        _COLUMNS,
        phase=_BACKWARD,
        seen=True,
    ),
    Mistake(
        "column-input-as-rows",
        "x is read as (m, n_x), rows, where the column layout has (n_x, m): the batch axis "
        "gets n_x's size",
        None,
        _COLUMNS,
        seen=True,
    ),
    Mistake(
        "leaves-the-graph",
        "the forward computes its values outside torch's graph (.numpy(), .detach(), "
        "torch.tensor(...) of a result): right values, but autograd has no gradient",
        None,
        _AUTOGRAD,
        phase=_BACKWARD,
        seen=True,
    ),
    Mistake(
        "in-place-write",
        "the forward writes in place into a tensor autograd needs (H[:] = ..., H += ...): "
        "torch's backward raises",
        None,
        _AUTOGRAD,
        phase=_BACKWARD,
        seen=True,
    ),
    Mistake(
        "imports-the-reference",
        "the code imports reference_rnn instead of computing its values: the worker refuses it",
        None,
        seen=True,
    ),
    Mistake(
        "modifies-its-arguments",
        "the code writes into an array it was given (x, h0, Wx, Wh, b, or the upstream gradient "
        "dh): the caller's values change",
        None,
        _BY_HAND,  # d2l's arrays are torch's leaves, which autograd guards
        seen=True,
    ),
]

#: What an API's adapter can see as it calls the code (catalogue ids).
SEEN = frozenset(mistake.id for mistake in CATALOGUE if mistake.seen)
#: Every mistake's id and one-line description.
MISTAKES: dict[str, str] = {mistake.id: mistake.description for mistake in CATALOGUE}


def applicable(api: str, dtype: str) -> list[Mistake]:
    """The mistakes that ``api`` can make and a ``dtype`` check can show."""
    return [m for m in CATALOGUE if api in m.apis and not (m.float32_values and dtype != "float64")]
