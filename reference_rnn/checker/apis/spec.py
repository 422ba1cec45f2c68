"""One user API, declared once: what it is called, what it calls and what each call returns.

An API module states an :class:`ApiSpec`; everything else the checker knows of that API is read
from it: the plan (:meth:`ApiSpec.plan`, from :class:`Facts` about the target), the names the
worker reads of the target, which catalogued mistakes it can make (its ``layout``, ``by_hand``
and the kind of target), the ``--tensors`` forms, and what a reply from the worker may hold
(each runner's :class:`OutputSpec`\\ s). Nothing is learnt by running an adapter: what a call
returns, and what a call that failed returns, is what the spec says.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from types import ModuleType
from typing import Any, Literal

from reference_rnn.checker.apis.audit import Audit
from reference_rnn.checker.apis.calling import (
    Observation,
    Output,
    Plan,
    Runner,
    UserCodeError,
    call_user,
    class_name,
    output,
    stray_methods,
)
from reference_rnn.checker.battery import Case
from reference_rnn.core.validation import FloatArray

__all__ = [
    "WEIGHTS",
    "ApiSpec",
    "Call",
    "Facts",
    "OutputSpec",
    "RunnerSpec",
    "function_pair",
    "is_function",
    "not_run",
    "read_facts",
]


@dataclass(frozen=True)
class OutputSpec:
    """One value a call returns: the reference's ``key`` and the API's ``name`` for it.

    optional : the code may have it or not (sprint's ``.dh_prev``); a failed call does not list it
    or_last : the value may be the final state only (key ``h_last``); the call's backward was then
        given the gradient of that state only
    """

    key: str
    name: str
    optional: bool = False
    or_last: bool = False


#: An adapter: the calls of one runner on ``target``, filling in :class:`Call`. It yields once,
#: after the forward part; what follows is the backward part, run only when ``Call.backward``.
#: Returning before the yield says the forward's result cannot be given a backward.
Steps = Callable[[Any, "Call"], Iterator[None]]


@dataclass(frozen=True)
class RunnerSpec:
    """One way of running the code: the calls of one runner, and what they return.

    forward : the function or method that must exist for the runner to run
    backward : its backward, without which forward is checked alone; None where the gradients
        need none of the code's (torch's autograd)
    outputs, gradients : what the forward part, and the backward part, return
    skipped : what the gradients say when the forward part failed; None: the forward's error
    """

    label: str
    forward: str
    backward: str | None
    outputs: tuple[OutputSpec, ...]
    gradients: tuple[OutputSpec, ...]
    steps: Steps
    skipped: str | None = "not run"
    one_step: bool = False  # given each case's first step only
    blocks: bool = False  # also given the case in two blocks
    readout: str | None = None  # "linear" or "softmax": the cases get that output layer

    def returns(self, backward: bool) -> tuple[OutputSpec, ...]:
        """What a call returns, with or without its backward part."""
        return self.outputs + self.gradients * backward

    def run(self, target: object, backward: bool, case: Case) -> Observation:
        """The adapter's calls of ``target`` on ``case``: every API's one driver.

        A UserCodeError in the forward part fails every output; in the backward part, the
        gradients not yet read. What failed is said in the outputs, never raised. A part that
        wrote into an array it was given, or tried to import the reference, fails its outputs
        too, and the mistake is seen (:class:`~reference_rnn.checker.apis.audit.Audit`).
        """
        call = Call(self, case, backward)
        steps = self.steps(target, call)
        try:
            forward_only = next(steps, _DONE) is _DONE
        except UserCodeError as exc:
            skipped = str(exc) if self.skipped is None else self.skipped
            failed = not_run(self.outputs, str(exc)) + not_run(self.gradients * backward, skipped)
            call.outputs, call.seen = failed, []  # only what the audit sees
            call.audit.after(self.forward, call.outputs, 0, call.seen)
            return Observation(case, call.outputs, tuple(dict.fromkeys(call.seen)))
        call.audit.after(self.forward, call.outputs, 0, call.seen)
        start = len(call.outputs)
        if backward and forward_only:
            call.outputs += not_run(self.gradients, "not run")
        elif backward:
            try:
                next(steps, None)
            except UserCodeError as exc:
                done = {output.key for output in call.outputs}
                left = [spec for spec in self.gradients if spec.key not in done]
                call.outputs += not_run(left, str(exc))
            part = self.backward or "the backward (torch's autograd)"
            call.audit.after(part, call.outputs, start, call.seen)
        seen = tuple(dict.fromkeys(call.seen))
        return Observation(call.case, call.outputs, seen, tuple(call.notes))


def function_pair(
    label: str,
    names: tuple[str, str],
    outputs: tuple[OutputSpec, ...],
    gradients: tuple[OutputSpec, ...],
    steps: Steps,
    *,
    one_step: bool,
    readout: str | None = None,
) -> RunnerSpec:
    """A module's forward function and its backward (``names``): a runner whose gradients,
    when the forward failed, name it."""
    forward, backward = names
    skipped = f"not run: {forward} failed"
    return RunnerSpec(
        label, forward, backward, outputs, gradients, steps, skipped, one_step, readout=readout
    )


_DONE = object()  # an adapter that returned before its backward part


def not_run(specs: Sequence[OutputSpec], why: str) -> list[Output]:
    """Each output ``specs`` declare (but the optional ones), failed for ``why``."""
    return [Output(spec.key, spec.name, None, why) for spec in specs if not spec.optional]


@dataclass(frozen=True)
class Facts:
    """What a plan reads of the target: its name, whether it is a class or function (not a
    module), which of the API's names it has as callables, and its stray methods."""

    name: str
    callable: bool
    has: frozenset[str]
    strays: tuple[str, ...] = ()


@dataclass
class Call:
    """One run of ``runner`` on ``case``, as its adapter fills it in: what came back, in order.

    An adapter may change ``case`` (sprint's layer that returns its final state is checked
    against the case whose loss sees that state only).
    """

    runner: RunnerSpec
    case: Case
    backward: bool  # whether the backward part is run
    outputs: list[Output] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)  # catalogued mistakes seen in the calling
    notes: list[str] = field(default_factory=list)
    audit: Audit = field(default_factory=Audit)  # what it did besides returning values

    def copies(self, *, owned: tuple[str, ...] = ()) -> tuple[FloatArray, ...]:
        """Fresh copies of the case's arrays, to give the code: see :meth:`Audit.give`."""
        return self.audit.give(self.case, owned)

    def add(
        self,
        key: str,
        value: object,
        shape: tuple[int, ...],
        canonical: Callable[[FloatArray], FloatArray] | None = None,
    ) -> Output:
        """``value`` as the output ``key`` of a call (see :func:`calling.output`), added."""
        found = output(key, self.name(key), value, shape, canonical)
        self.outputs.append(found)
        return found

    def name(self, key: str) -> str:
        """What the runner's API calls its output ``key``."""
        specs = self.runner.outputs + self.runner.gradients
        return next(s.name for s in specs if key in (s.key, "h_last" if s.or_last else s.key))


#: The weights' gradients, as the APIs that read ``.grads`` or return them by hand name them.
WEIGHTS = (OutputSpec("dWx", "dWx"), OutputSpec("dWh", "dWh"), OutputSpec("db", "db"))

#: How the plan calls a runner: (its spec, whether its backward is run) -> run(case).
Bind = Callable[[RunnerSpec, bool], Callable[[Case], Observation]]


@dataclass(frozen=True)
class ApiSpec:
    """One ``--api``: its name and target, its runners, and the facts the catalogue reads.

    target : ``module`` (functions found by name), ``class`` (a layer made with the weights, its
        methods found by name) or ``function`` (TARGET itself, or the module's function of its runner's ``forward`` name)
    required : methods besides ``forward`` without which a class fails a check (not only its
        backward is left out)
    tensors : what the code takes, ``numpy`` or ``torch``; torch_form: the API of the same code
        written with torch tensors (``--tensors torch``)
    layout : how the states come back: ``batch-first`` (N, T, H), ``columns`` (H, N, T) or
        ``time-major``
    by_hand : the backward is the code's own (not torch's autograd)
    backward_required : the exercise asks for a backward: a missing one is a failed check, unless
        the plan is made ``forward_only`` (``--forward-only``); elsewhere the forward is checked
        alone, and the verdict says so
    """

    name: str
    target: Literal["module", "class", "function"]
    runners: tuple[RunnerSpec, ...]
    required: tuple[str, ...] = ()
    tensors: Literal["numpy", "torch"] = "numpy"
    torch_form: str | None = None
    layout: Literal["batch-first", "columns", "time-major"] = "batch-first"
    by_hand: bool = True
    backward_required: bool = False

    @property
    def attributes(self) -> tuple[str, ...]:
        """The names the plan reads of the target: the functions of a module, a class's methods."""
        names = [r.forward for r in self.runners] + [r.backward or "" for r in self.runners]
        return tuple(name for name in dict.fromkeys(names + list(self.required)) if name)

    @property
    def sequence(self) -> bool:
        """Whether the code runs T > 1 steps itself."""
        return not all(runner.one_step for runner in self.runners)

    def plan(self, facts: Facts, bind: Bind, *, forward_only: bool = False) -> Plan:
        """The runners ``facts`` allow, each run through ``bind``, and what is missing or left out.

        ``forward_only``: a backward the API requires may be missing (the forward is checked alone).
        """
        result = Plan()
        if self.target == "class" and not (facts.callable and "forward" in facts.has):
            result.missing.append(f"{facts.name}.forward")
            return result
        backwards: list[str] = []  # required, and missing
        for runner in self.runners:
            if runner.forward not in facts.has and not (
                self.target == "function" and facts.callable
            ):
                result.missing.append(runner.forward)
                continue
            backward = runner.backward is None or runner.backward in facts.has
            if not backward and self.backward_required and not forward_only:
                backwards.append(str(runner.backward))
                result.notes.append(self._required(facts.name, runner))
            elif not backward and runner.backward not in self.required:
                result.notes.append(self._forward_only(facts.name, runner))
                result.forward_only.append(runner.forward)
            run = bind(runner, backward)
            result.runners.append(
                Runner(runner.label, run, runner.one_step, runner.blocks, runner.readout)
            )
        required = dict.fromkeys(backwards + list(self.required))
        for method in (m for m in required if m not in facts.has):
            result.missing.append(f"{facts.name}.{method}" if self.target == "class" else method)
            if method in facts.strays:
                result.notes.append(
                    f"{facts.name} has no {method}, but its module has a function "
                    f"{method}(self, ...): indented at the module level instead of inside the class?"
                )
        return result

    def _required(self, name: str, runner: RunnerSpec) -> str:
        where = (
            f"{name} has no {runner.backward}"
            if self.target == "class"
            else (f"no {runner.backward}")
        )
        return (
            f"{where}: the {self.name} exercise asks for a backward "
            f"(--forward-only checks {runner.forward} alone)"
        )

    def _forward_only(self, name: str, runner: RunnerSpec) -> str:
        if self.target == "class":
            return f"forward only: {name} has no {runner.backward}"
        return f"forward only: no {runner.backward}, so {runner.forward} is checked alone"


def is_function(obj: object) -> bool:
    """Whether ``obj`` is called itself (a class or a function), not a module of functions."""
    return callable(obj) and not isinstance(obj, ModuleType)


def _has_callable(obj: object, name: str) -> bool:
    return callable(getattr(obj, name, None))


def read_facts(obj: object, spec: ApiSpec) -> Facts:
    """What ``spec``'s plan reads of ``obj``; UserCodeError if reading it raises.

    Reading a name runs the code's own ``__getattr__`` or descriptors, if it has them.
    """
    return Facts(
        call_user("reading __name__", lambda: class_name(obj)),
        is_function(obj),
        frozenset(
            name
            for name in spec.attributes
            if call_user(f"reading {name}", partial(_has_callable, obj, name))
        ),
        tuple(call_user("reading its module", lambda: stray_methods(obj))),
    )
