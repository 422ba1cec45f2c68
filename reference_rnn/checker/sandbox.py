"""Checking code in a worker process: the checker's side of the trust boundary.

The code under test is loaded and called only in a worker process
(:mod:`reference_rnn.checker.worker`); the cases, the expected values, the comparison and the
diagnosis stay here. A call sends a case's inputs and gets back the outputs only
(:mod:`reference_rnn.checker.remote` says what is taken of them), within a time limit per call.
One worker serves every call; a call that does not return in time, or that ends or kills the
worker, is a failed check with that reason, and a fresh worker runs the calls after it. After
``Limits.restarts`` such calls of one runner, that runner's other calls are not run: code that
crashes every time costs a few restarts, not one per case.

Whatever the code prints, through any file descriptor, goes to a capture file in a private
temporary folder; the report shows its first lines.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import NoReturn, Self

from reference_rnn.checker import remote
from reference_rnn.checker.apis import spec
from reference_rnn.checker.apis.calling import Observation, Output, Plan
from reference_rnn.checker.apis.spec import OutputSpec
from reference_rnn.checker.battery import Case, battery, fresh_seed
from reference_rnn.checker.boundary import target_folder
from reference_rnn.checker.diagnosis import Diagnosis, Evidence
from reference_rnn.checker.limits import count, megabytes, named, seconds
from reference_rnn.checker.printing import check_title
from reference_rnn.checker.process import Confinement, WorkerLostError, WorkerProcess, encode
from reference_rnn.checker.runner import Check, Report, check_plan, validated
from reference_rnn.checker.target import TargetNotFoundError, search_path
from reference_rnn.core.measure import TOLERANCE

__all__ = ["Limits", "LoadError", "Sandbox", "check_target"]

#: How long a worker has to start (the interpreter and NumPy), before loading the code.
STARTUP = 60.0
#: The most a reply may hold besides its values: a case's outputs are the size of its inputs.
_REPLY_MARGIN = 1 << 26
_DETAIL = 2000  # characters of a message from the worker


@dataclass(frozen=True)
class Limits:
    """What the code under test may take.

    timeout : seconds for one call (a case's forward and backward), or for loading the code
    memory : megabytes of address space the code may add to the worker's (RLIMIT_AS), 0 for none
    restarts : the calls of one runner that may end or hang the worker before its others are
        not run
    worker_user : the user the worker runs as when the checker runs as root (None: ``nobody``;
        ``""``: root, no boundary but the namespaces)
    """

    timeout: float = 10.0
    memory: int = 4096
    restarts: int = 3
    worker_user: str | None = None

    def __post_init__(self) -> None:  # ValueError naming the field (checker.limits)
        named("timeout", seconds, self.timeout)
        named("memory", megabytes, self.memory)
        named("restarts", partial(count, least=1, most=1000), self.restarts)


class LoadError(Exception):
    """The code under test could not be loaded: the message says why, and where.

    ``mistake``: the catalogued mistake its loading showed (``imports-the-reference``), if any.
    """

    def __init__(self, message: str, mistake: str | None = None) -> None:
        super().__init__(message)
        self.mistake = mistake


def _lost(message: str) -> NoReturn:
    raise WorkerLostError(message)


class Sandbox:
    """The worker processes of one check of ``target`` as ``api``, and their captured output.

    Use as a context manager: the worker starts at once; :meth:`plan` has it load the code;
    :meth:`finish` ends it and returns the first lines of what the code printed.
    """

    def __init__(self, target: str, api: str, limits: Limits) -> None:
        self.target, self.api, self.limits = target, api, limits
        self._folder = tempfile.mkdtemp(prefix="reference-rnn-check-")  # 0700, the checker's
        self._output = Path(self._folder) / "output.txt"
        try:  # new, ours, a regular file: the worker only appends to it through its descriptor
            flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_NOFOLLOW
            self._capture = os.open(self._output, flags | os.O_CLOEXEC, 0o600)
        except BaseException:
            _remove(self._folder)
            raise
        torch = spec(api).tensors == "torch"
        preload = ("reference_rnn.checker.apis.d2l:warm_torch",) if torch else ()
        folder = target_folder(target)
        self._confinement = Confinement(limits.memory, limits.worker_user, folder, preload)
        self._facts: object = None
        self._calls = 0
        self._lost: dict[str, list[str]] = {}  # runner label -> why its calls were lost
        try:
            self._worker: WorkerProcess | None = WorkerProcess(self._capture, self._confinement)
        except BaseException:
            self._close()
            raise

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # Ctrl-C may come in the middle of a call: end the worker at once; else it is idle
        self._stop(at_once=exc is not None and not isinstance(exc, Exception))
        self._close()

    def _close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._capture)
        _remove(self._folder)

    def _stop(self, *, at_once: bool) -> None:
        if self._worker is not None:
            self._worker.stop(at_once=at_once)
            self._worker = None

    def plan(self, *, forward_only: bool = False) -> Plan:
        """The plan for the code: made here, from what the worker found in it.

        ``forward_only``: a backward the API requires may be missing.

        TargetNotFoundError when TARGET does not exist; LoadError when it cannot be loaded.
        """
        declared = spec(self.api)
        try:
            self._facts = self._loaded()
            facts = remote.facts(declared, self._facts)
        except TimeoutError:
            self._stop(at_once=True)
            msg = f"loading {self.target} did not finish within {self.limits.timeout:g} s: stopped"
            raise LoadError(msg) from None
        except WorkerLostError as exc:
            self._stop(at_once=True)
            msg = f"loading {self.target}: {exc}"
            raise LoadError(msg) from None
        return declared.plan(
            facts,
            lambda runner, backward: partial(self._call, runner.label, runner.returns(backward)),
            forward_only=forward_only,
        )

    def _loaded(self) -> object:
        """The worker's description of the code, once it has started and loaded it."""
        worker = self._worker
        assert worker is not None
        header, _ = worker.receive(time.monotonic() + STARTUP, _REPLY_MARGIN)
        if header.get("op") != "ready":
            _lost("the worker process did not start")
        deadline = time.monotonic() + self.limits.timeout
        request = {"op": "load", "target": self.target, "api": self.api, "path": search_path()}
        worker.send(encode(request), deadline)
        header, _ = worker.receive(deadline, _REPLY_MARGIN)
        op, error = header.get("op"), remote.printable(str(header.get("error")), _DETAIL)
        if op == "not-found":
            raise TargetNotFoundError(error)
        if op in ("load-failed", "error"):
            seen = header.get("seen") == ["imports-the-reference"]
            raise LoadError(error, "imports-the-reference" if seen else None)
        if op != "loaded":
            _lost("the worker process sent back a reply to another request")
        return header.get("facts")

    def _call(self, label: str, returns: tuple[OutputSpec, ...], case: Case) -> Observation:
        """The user's code run on ``case`` by the worker's runner ``label``, which ``returns``."""
        lost = self._lost.setdefault(label, [])
        if len(lost) >= self.limits.restarts:
            why = f"not run: {len(lost)} earlier calls crashed or hung the worker (the last: {lost[-1]})"
            return remote.failed(case, returns, why)
        try:
            return self._remote(label, returns, case)
        except TimeoutError:
            why = f"did not return within {self.limits.timeout:g} s: stopped"
        except WorkerLostError as exc:
            why = str(exc)
        self._stop(at_once=True)
        lost.append(why)
        return remote.failed(case, returns, why)

    def _remote(self, label: str, returns: tuple[OutputSpec, ...], case: Case) -> Observation:
        """One call, in the worker (a fresh one if the last was lost); WorkerLostError, TimeoutError."""
        if self._worker is None:  # the last one was lost: a fresh worker, loading the code again
            self._worker = WorkerProcess(self._capture, self._confinement)
            try:
                facts = self._loaded()
            except (LoadError, TargetNotFoundError) as exc:
                _lost(f"a fresh worker could not load the code: {exc}")
            except TimeoutError:
                _lost(f"a fresh worker did not load the code within {self.limits.timeout:g} s")
            if facts != self._facts:
                _lost("a fresh worker found other functions in the code")
        self._calls += 1
        request = {"op": "run", "seq": self._calls, "runner": label}
        readout = case.readout
        request |= {"case": case.name, "split": case.split}
        request |= {"softmax": None if readout is None else readout.softmax}
        arrays = [case.x, case.h0, case.Wx, case.Wh, case.b, case.dh]
        arrays += [] if readout is None else [readout.Wy, readout.by, readout.dy]
        deadline = time.monotonic() + self.limits.timeout
        self._worker.send(encode(request, arrays), deadline)
        size = _REPLY_MARGIN + 32 * sum(a.size for a in arrays)  # float64, with room to spare
        header, values = self._worker.receive(deadline, size)
        if header.get("seq") != self._calls or header.get("op") not in ("observation", "error"):
            _lost("the worker process sent back a reply to another request")
        if header["op"] == "error":  # the worker's own code raised, reading what the code returned
            error = remote.printable(str(header.get("error")), _DETAIL)
            return remote.failed(case, returns, f"the call ended with {error}")
        return remote.observation(case, returns, header, values)

    def finish(self) -> list[str]:
        """End the worker; the first lines of what the code printed, all along."""
        self._stop(at_once=False)
        # through the checker's own descriptor, whatever the path holds now
        own = Path(f"/proc/self/fd/{self._capture}")
        return remote.output_lines(own if own.exists() else self._output)


def _remove(folder: str) -> None:
    """The checker's temporary folder gone, whatever is in it; never an error (said on stderr)."""

    def writable(_function: object, path: str, _exc: object) -> None:
        entry = Path(path)
        with contextlib.suppress(OSError):  # a folder made unreadable: ours again, then removed
            entry.parent.chmod(0o700)
            if entry.is_dir() and not entry.is_symlink():
                entry.chmod(0o700)
                shutil.rmtree(entry)
            else:
                entry.unlink()

    with contextlib.suppress(OSError):
        shutil.rmtree(folder, onerror=writable)
    if os.path.lexists(folder):  # a link too
        sys.stderr.write(f"reference-rnn check: could not remove {folder}\n")


def _load_mistake(mistake: str, message: str) -> Diagnosis:
    """The mistake loading the code showed, with the failed load check as its evidence."""
    detail = f"{message}: the worker refused it; the checked code's values must be its own"
    loading = check_title("load", "TARGET")
    return Diagnosis(mistake, Evidence(loading, "TARGET", None, None, None, detail), 1)


def _prepared(dtype: str, seed: int) -> list[Case]:
    """The battery drawn from ``seed`` and its expected values, made while the worker starts (on
    another core).

    With the case in two blocks: runners that do not take blocks pass it by.
    """
    cases = battery(dtype, seed=seed, stateful=True)
    for case in cases:
        case.expected  # noqa: B018  (a cached property: computed now)
    return cases


def check_target(
    target: str,
    *,
    api: str,
    dtype: str = "float64",
    cases: Iterable[Case] | None = None,
    limits: Limits | None = None,
    name: str | None = None,
    observe: Callable[[str, Output, Case], None] | None = None,
    seed: int | None = None,
    forward_only: bool = False,
) -> Report:
    """Check TARGET as an ``api`` implementation, its code run only in a worker process.

    ``name`` is the target's name in the report (default: TARGET). The battery is drawn from
    ``seed``, a fresh one if None (unless ``cases`` are given); ``forward_only``: a backward
    the API requires may be missing. TargetNotFoundError when TARGET does not exist; code that
    cannot be loaded is the failed check ``load: TARGET``.
    """
    checked = validated(api, dtype, cases, seed)
    name = remote.printable(target if name is None else name)
    if checked is None:
        seed = fresh_seed() if seed is None else seed
    with Sandbox(target, api, limits or Limits()) as sandbox:
        checked = _prepared(dtype, seed) if seed is not None else checked
        try:
            how = sandbox.plan(forward_only=forward_only)
        except LoadError as exc:
            detail = remote.printable(str(exc))
            load = Check.of(
                "load",
                "TARGET",
                "",
                passed=False,
                error=None,
                tolerance=TOLERANCE[dtype],
                detail=detail,
            )
            mistakes = [] if exc.mistake is None else [_load_mistake(exc.mistake, detail)]
            report = Report(api, name, dtype, [load], mistakes, seed=seed)
        else:
            report = check_plan(
                how, api=api, dtype=dtype, cases=checked, target=name, observe=observe, seed=seed
            )
        return replace(report, output=sandbox.finish())
