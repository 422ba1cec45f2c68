"""The worker process: where the code under test is loaded and called, and nothing else is done.

:mod:`reference_rnn.checker.sandbox` starts it with the checker's interpreter; its stdin is
empty, and its file descriptors 1 and 2 are the sandbox's capture file from the start, so what the
code prints, by any means, lands there. It answers requests from one pipe on another
(:mod:`reference_rnn.checker.channel`):

- ``load``: load TARGET (:func:`~reference_rnn.checker.target.load_target`) and answer what the
  API's plan reads of it: which of its functions or methods exist (the sandbox makes the plan
  from that); or why it was not found, or could not be loaded;
- ``run``: run one case through one of the plan's runners and answer the outputs.

Whatever the code under test raises, SystemExit and KeyboardInterrupt included, is an answer; if
it ends the process, hangs or is killed, the sandbox sees that. The worker computes no expected
value and compares nothing: the sandbox takes nothing from it but the values the code returned.

Before it loads the code, the worker seals the package (:func:`seal`): none of the reference's
math is loaded in it at all (its own modules import none), its own modules are taken out of
``sys.modules``, and the import system refuses ``reference_rnn`` and its submodules to the code
under test; each try is the seen mistake ``imports-the-reference``.
"""

from __future__ import annotations

import contextlib
import ctypes
import faulthandler
import importlib
import importlib.abc
import json
import os
import resource
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from reference_rnn.checker import boundary
from reference_rnn.checker.apis import bind, spec
from reference_rnn.checker.apis.calling import (
    Runner,
    UserCodeError,
    exception_text,
    refused,
    worker_mode,
)
from reference_rnn.checker.apis.spec import read_facts
from reference_rnn.checker.battery import Case, Readout
from reference_rnn.checker.printing import cut
from reference_rnn.checker.process import decode, encode, reader, write_all
from reference_rnn.checker.target import TargetNotFoundError, load_target
from reference_rnn.core.validation import FloatArray

__all__ = ["Worker", "main", "seal"]

#: The largest request the worker reads: a case's inputs, even a large one.
REQUEST_LIMIT = 1 << 31


class Worker:
    """The worker's state: the target's runners once loaded, and the interpreter's own settings."""

    def __init__(self) -> None:
        self.runners: dict[str, Runner] = {}  # by label
        self.recursion_limit = sys.getrecursionlimit()

    def answer(self, header: dict[str, Any], arrays: list[FloatArray]) -> bytes:
        """The reply to one request, whatever the code under test does short of ending us."""
        try:
            if header.get("op") == "load":
                return encode(_cut_texts(self.load(header)))
            reply, values = self.run(header, arrays)
            return encode(_cut_texts(reply), values)
        except BaseException as exc:  # noqa: BLE001  (the code under test's, or a request's fault)
            error = cut(exception_text(exc))
            return encode({"op": "error", "seq": header.get("seq"), "error": error})
        finally:  # the code may have changed what the worker's own code needs
            sys.setrecursionlimit(self.recursion_limit)

    def load(self, header: dict[str, Any]) -> dict[str, Any]:
        sys.path[:] = header["path"]  # the checker's: what it can import, this process can
        declared = spec(header["api"])
        tried = len(refused())
        try:
            obj = load_target(header["target"])
            facts = read_facts(obj, declared)
        except (TargetNotFoundError, UserCodeError) as exc:
            failed = "not-found" if isinstance(exc, TargetNotFoundError) else "load-failed"
            return _refused(header["target"], tried) or {"op": failed, "error": str(exc)}
        caught = _refused(header["target"], tried)  # the code caught the refusal, and went on
        if caught is not None:
            return caught
        runners = declared.plan(facts, bind(obj)).runners
        self.runners = {runner.label: runner for runner in runners}
        described = {"name": facts.name, "callable": facts.callable, "has": sorted(facts.has)}
        return {"op": "loaded", "facts": described | {"strays": list(facts.strays)}}

    def run(
        self, header: dict[str, Any], arrays: list[FloatArray]
    ) -> tuple[dict[str, Any], list[FloatArray]]:
        runner = self.runners[header["runner"]]
        x, h0, Wx, Wh, b, dh, *output_layer = arrays
        softmax = header["softmax"]
        readout = None if softmax is None else Readout(softmax, *output_layer)
        case = Case(header["case"], "", x, h0, Wx, Wh, b, dh, header["split"], readout)
        outputs: list[dict[str, Any]] = []
        values: list[FloatArray] = []
        observed = runner.run(case)
        for output in observed.outputs:
            index = None
            if output.value is not None:
                index = len(values)
                values.append(output.value)
            outputs.append(
                {"key": output.key, "name": output.name, "value": index, "problem": output.problem}
            )
        reply = {"op": "observation", "seq": header["seq"], "outputs": outputs}
        return reply | {"seen": list(observed.seen), "notes": list(observed.notes)}, values


def _cut_texts(value: Any) -> Any:
    """``value`` with every text in it cut (:func:`.printing.cut`): the checker escapes them."""
    if isinstance(value, str):
        return cut(value)
    if isinstance(value, dict):
        return {key: _cut_texts(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_cut_texts(item) for item in value]
    return value


def _refused(target: str, tried: int) -> dict[str, Any] | None:
    """The reply to a load that tried to import the reference; None if it did not."""
    tries = refused()[tried:]
    if not tries:
        return None
    error = f"loading {target} tried to import {tries[0]}, which the checked code may not use"
    return {"op": "load-failed", "error": error, "seen": ["imports-the-reference"]}


def main(argv: Sequence[str]) -> int:
    """Serve requests until the checker closes the channel: ``REQUESTS REPLIES MEMORY_MB [BOUNDARY]``.

    BOUNDARY: what :func:`reference_rnn.checker.boundary.drop` does (JSON) once the worker's own
    imports are done, before any of the judged code runs.
    """
    requests, replies, memory = (int(arg) for arg in argv[:3])
    _die_with_the_checker()
    _limit_memory(memory)
    faulthandler.enable()  # a crash in compiled code: its traceback goes to the captured stderr
    worker_mode()
    settings = argv[3] if len(argv) > 3 else '{"mode": "none"}'
    for name in json.loads(settings).get("preload", []):  # the worker's start, not the code's load
        module, _, function = name.partition(":")
        with contextlib.suppress(ImportError):  # missing: the load says how to install it
            getattr(importlib.import_module(module), function)()
    boundary.drop(settings)
    worker = Worker()
    seal()
    read = reader(requests)
    write_all(replies, encode({"op": "ready"}))
    while True:
        try:
            header, arrays = decode(read, REQUEST_LIMIT)
        except EOFError:  # the checker is done
            return 0
        write_all(replies, worker.answer(header, arrays))


#: The package the code under test may not import or read, and its folder.
_PACKAGE = __name__.partition(".")[0]
#: The worker's own modules, taken out of sys.modules by :func:`seal` and kept alive here.
_KEPT: dict[str, ModuleType] = {}


def _refuse(name: str) -> None:
    """ModuleNotFoundError for the package or a submodule, remembered; nothing for another."""
    if name == _PACKAGE or name.startswith(f"{_PACKAGE}."):
        refused().append(name)
        msg = f"the checked code may not import {name}: the checker refuses its reference to it"
        raise ModuleNotFoundError(msg, name=name)


class _Refusal(importlib.abc.MetaPathFinder):
    """The first finder on ``sys.meta_path``: it refuses the package, and finds nothing else.

    ``importlib.util.find_spec(name)`` is a question, not an import: it is left to the other
    finders (coverage asks it of its source packages whenever ``sys.path`` changes). Importing
    what it finds imports the package, which is refused.
    """

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:  # noqa: ARG002
        asking = sys._getframe(2)  # importlib's caller: an import, or a question
        if not (asking.f_code.co_name == "find_spec" and "importlib" in asking.f_code.co_filename):
            _refuse(name)


def _audit(event: str, args: tuple[Any, ...]) -> None:
    """An audit hook (it cannot be removed): imports of the package, for code that takes the
    finder out of ``sys.meta_path``.

    Reading the package's files is not refused here: libraries read the source of the frames
    on the stack (the worker's own among them). A file of the package loaded by its path
    imports the rest of the package, which is refused; where the files must be out of reach,
    the worker's user cannot read them (docs/checking.md).
    """
    if event == "import" and isinstance(args[0], str):
        _refuse(args[0])


_audit.__cantrace__ = True  # type: ignore[attr-defined]  # a tracer (coverage) may see it run


def seal() -> None:
    """Refuse the package to the code under test, from now on (see the module's docstring).

    The worker's own modules stay loaded, held by the worker; they are no longer in
    ``sys.modules``, where the code could find them.
    """
    for name in [n for n in sys.modules if n == _PACKAGE or n.startswith(f"{_PACKAGE}.")]:
        _KEPT[name] = sys.modules.pop(name)
    sys.meta_path.insert(0, _Refusal())
    sys.addaudithook(_audit)


def _die_with_the_checker() -> None:
    """Be killed when the checker ends, however it ends, even inside the code under test.

    Linux's PR_SET_PDEATHSIG; elsewhere, the worker ends when it next reads its requests.
    """
    prctl = getattr(ctypes.CDLL(None), "prctl", lambda *_: 0)
    prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


_PR_SET_PDEATHSIG = 1


def _limit_memory(megabytes: int) -> None:
    """At most ``megabytes`` more address space than the worker has now (RLIMIT_AS), if any.

    On top of what the worker has before it loads the code: the interpreter, NumPy and its
    threads' reservations, which vary with the machine.
    """
    if megabytes > 0:
        limit = _address_space() + megabytes * 2**20
        _, most = resource.getrlimit(resource.RLIMIT_AS)  # what this process may set
        limit = limit if most == resource.RLIM_INFINITY else min(limit, most)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _address_space() -> int:
    """The bytes of address space this process has now: Linux's /proc/self/statm, else 0."""
    statm = Path("/proc/self/statm")
    pages = int(statm.read_text(encoding="ascii").split()[0]) if statm.exists() else 0
    return pages * os.sysconf("SC_PAGE_SIZE")
