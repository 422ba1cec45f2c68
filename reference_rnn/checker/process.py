"""The worker process as the checker sees it, and the private channel between them.

Start the worker, talk to it within a deadline, end it. The worker (:mod:`reference_rnn.checker.worker`) runs the checker's own interpreter, with
``-P`` (no script or working directory at the head of ``sys.path``, so no file of the user's can
stand in for a module of the worker's own) and ``-u`` (what the code prints reaches the capture
file at once, even if the process is killed next). Its stdout and stderr are the capture file,
its stdin is empty, and it leads a session of its own: Ctrl-C at the terminal reaches the checker
only, and ending the worker's process group also ends whatever the code under test started.

Every wait has a deadline and looks at the process as it waits: a worker that ends, is killed or
sends something unreadable is a :class:`WorkerLostError` with the reason, a student's words for it.

The channel: messages over two pipes. A message is a JSON header and the arrays it refers to by position, each as the bytes of a
``.npy`` file, read back with ``allow_pickle=False``; every part is framed by its length,
``<u32 length><bytes>``. Nothing of it passes through the worker's stdout or stderr, which hold
what the code under test prints. The reader trusts nothing: a message that is cut short, longer
than the reader allows, or not in this format is a :class:`ChannelError`.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import os
import select
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from reference_rnn.checker import boundary, cgroup
from reference_rnn.core.validation import FloatArray

__all__ = [
    "ChannelError",
    "Confinement",
    "WorkerLostError",
    "WorkerProcess",
    "decode",
    "encode",
    "exit_reason",
    "reader",
    "write_all",
]

#: The package's folder's parent: the worker imports this very package, whatever the user has.
_ROOT = str(Path(__file__).resolve().parents[2])
#: The boundary (stdlib only) is loaded by its file and entered before any other import: NumPy
#: may start threads, and a process with threads cannot enter namespaces.
_BOOT = (
    "import sys, importlib.util as u; sys.path.insert(0, sys.argv[1]); "
    "s = u.spec_from_file_location('_reference_rnn_boundary', sys.argv[5]); "
    "b = u.module_from_spec(s); s.loader.exec_module(b); b.enter(sys.argv[6]); "
    "from reference_rnn.checker.worker import main; sys.exit(main(sys.argv[2:5] + sys.argv[6:]))"
)
_BOUNDARY = str(Path(__file__).with_name("boundary.py"))
#: How often a wait looks at the process (a grandchild may hold the channel open).
_TICK = 0.1
#: How long an idle worker has to end once its requests are closed (and save its coverage data,
#: under the tests), and a worker that closed the channel has to end before it is killed.
_GRACE, _ENDING = 2.0, 1.0

#: What a signal that killed the worker most likely means.
_SIGNALS = {
    "SIGSEGV": "a crash in compiled code",
    "SIGBUS": "a crash in compiled code",
    "SIGFPE": "a crash in compiled code",
    "SIGILL": "a crash in compiled code",
    "SIGABRT": "abort(), or a failed assertion in compiled code",
    "SIGKILL": "killed from outside, or by the system when memory ran out",
    "SIGXFSZ": f"it wrote more than {boundary.OUTPUT_LIMIT // 2**20} MB to one file",
}


class WorkerLostError(Exception):
    """The worker ended, was killed, or sent something unreadable; the message says which."""


def exit_reason(code: int) -> str:
    """How a process with exit code ``code`` (negative: killed by that signal) ended."""
    if code >= 0:
        return f"the worker process exited with status {code} (os._exit, or a fatal error)"
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = f"signal {-code}"
    why = _SIGNALS.get(name)
    return f"the worker process was killed by {name}" + (f" ({why})" if why else "")


@dataclass(frozen=True)
class Confinement:
    """What a worker is confined to: ``memory`` MB more address space (0: no limit); as root,
    the worker ``user`` (None: ``nobody``; "": none); ``folder``, the target's, that it must read;
    ``preload``, the functions (``module:function``) it runs as it starts, before the drop (torch
    imported and warmed, for code that takes tensors: that is then the worker's start, not the
    judged code's load or first call under ``--timeout``)."""

    memory: int = 0
    user: str | None = None
    folder: str | None = None
    preload: tuple[str, ...] = ()


class WorkerProcess:
    """One worker: started at once; :meth:`send` and :meth:`receive` by a deadline; :meth:`stop`.

    ``capture`` is the file descriptor its stdout and stderr write to; ``confinement`` the
    megabytes of address space it may add once started (0: no limit), or a
    :class:`Confinement` that also names the worker user and the target's folder.
    """

    def __init__(self, capture: int, confinement: int | Confinement) -> None:
        if isinstance(confinement, int):
            confinement = Confinement(confinement)
        settings = boundary.spec(confinement.user, boundary.reach(confinement.folder))
        boundary.harden_checker()
        self._group: cgroup.Group | None = (
            None  # as root, where a cgroup can be made: its limits hold for all it starts
        )
        if settings["mode"] == "root":
            self._group = cgroup.Group.make(f"reference-rnn-{os.getpid()}-{next(_NUMBERS)}")
        if self._group is not None:
            settings["cgroup"] = self._group.procs()
        settings["preload"] = list(confinement.preload)
        self._memory = confinement.memory
        requests, self._requests = os.pipe()
        self._replies, replies = os.pipe()
        try:
            arguments = [str(requests), str(replies), str(confinement.memory)]
            spec = json.dumps(settings)
            self.process = subprocess.Popen(
                [sys.executable, "-P", "-u", "-c", _BOOT, _ROOT, *arguments, _BOUNDARY, spec],
                stdin=subprocess.DEVNULL,
                stdout=capture,
                stderr=capture,
                pass_fds=(requests, replies),
                start_new_session=True,
            )
        except BaseException:
            if self._group is not None:
                self._group.remove()
            raise
        finally:
            os.close(requests)
            os.close(replies)
        os.set_blocking(self._requests, False)
        os.set_blocking(self._replies, False)
        self.stopped = False
        self._waiter = settings["mode"] != "none"  # else: the worker itself, in its own session

    def send(self, data: bytes, deadline: float) -> None:
        """Write ``data`` to the worker's requests; TimeoutError past ``deadline``."""
        view = memoryview(data)
        if self._group is not None and not self._group.megabytes:  # the worker is ready
            self._group.limit_memory(self._memory)
        if self._exit_code() is not None:  # its worker may not be gone yet: the pipe still open
            raise self._lost()
        while view:
            self._wait(self._requests, deadline, write=True)
            try:  # as much as the pipe has room for: select said it has some
                view = view[os.write(self._requests, view) :]
            except BrokenPipeError:
                raise self._lost() from None

    def receive(self, deadline: float, limit: int) -> tuple[dict[str, Any], list[FloatArray]]:
        """The worker's next message, of at most ``limit`` bytes; TimeoutError past ``deadline``."""

        def read(n: int) -> bytes:
            data = bytearray()
            while len(data) < n:
                self._wait(self._replies, deadline, write=False)
                chunk = os.read(self._replies, n - len(data))
                if not chunk:
                    raise self._lost()
                data += chunk
            return bytes(data)

        try:
            message = decode(read, limit)
        except ChannelError as exc:
            msg = f"the worker process sent back something unreadable: {exc}"
            raise WorkerLostError(msg) from None
        self._within_limits()
        return message

    def _within_limits(self) -> None:
        """WorkerLostError if the worker's group broke its memory or process limit."""
        breach = None if self._group is None else self._group.breach()
        if breach is not None:
            raise WorkerLostError(breach)

    def _wait(self, fd: int, deadline: float, *, write: bool) -> None:
        """Until ``fd`` is ready; WorkerLostError if the process ends first, TimeoutError at ``deadline``."""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            waits = ([], [fd]) if write else ([fd], [])
            readable, writable, _ = select.select(*waits, [], min(left, _TICK))
            if readable or writable:
                return
            if self._exit_code() is not None:
                raise self._lost()
            self._within_limits()

    def _lost(self) -> WorkerLostError:
        """Why the worker stopped answering: how it ended (killing it if it has not)."""
        code = self._exit_code(_ENDING)
        if code is None:
            self.stop(at_once=True)
            return WorkerLostError("the worker process closed the channel to the checker")
        breach = None if self._group is None else self._group.breach()
        return WorkerLostError(breach or exit_reason(code))

    def _exit_code(self, within: float = 0.0) -> int | None:
        """The worker's exit code (negative: the signal that ended it) if it ends within ``within``.

        Never reaps it: until :meth:`stop` does, its PID and its process group's ID cannot be
        another process's, so a signal the checker sends cannot reach a process started since
        (the PIDs on a busy machine wrap in minutes, and the checker may run as root).
        """
        deadline = time.monotonic() + within
        while True:
            flags = os.WEXITED | os.WNOHANG | os.WNOWAIT
            ended = os.waitid(os.P_PID, self.process.pid, flags)
            if ended is not None:
                killed = ended.si_code in (os.CLD_KILLED, os.CLD_DUMPED)
                return -ended.si_status if killed else ended.si_status
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            time.sleep(min(left, _TICK / 10))

    def stop(self, *, at_once: bool = False) -> None:
        """End the worker, after a moment for an idle one to end itself, and all it started."""
        if self.stopped:
            return
        self.stopped = True
        os.close(self._requests)  # the worker reads the end of its requests and returns
        if not at_once:
            self._exit_code(_GRACE)
        if self._waiter and self._exit_code() is None:  # it kills the worker and all it started
            os.kill(self.process.pid, signal.SIGTERM)
            self._exit_code(_ENDING)
        # Not reaped yet, the worker holds its PID, its process group's ID: nothing else has it
        with contextlib.suppress(OSError):  # none left
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        os.close(self._replies)
        if self._group is not None:  # what is left in it killed, then it is gone
            self._group.remove()


_NUMBERS = itertools.count()
_LENGTH = struct.Struct("<I")
_MAX_ARRAYS = 64


class ChannelError(Exception):
    """A message that cannot be read: cut short, too long, or not in the channel's format."""


def encode(header: dict[str, Any], arrays: Sequence[FloatArray] = ()) -> bytes:
    """``header`` (JSON) and ``arrays`` (float32 or float64) as one message."""
    parts = [json.dumps({**header, "arrays": len(arrays)}).encode()]
    for array in arrays:
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        parts.append(buffer.getvalue())
    return b"".join(_LENGTH.pack(len(part)) + part for part in parts)


def decode(read: Callable[[int], bytes], limit: int) -> tuple[dict[str, Any], list[FloatArray]]:
    """One message, by ``read(n)`` (exactly n bytes, or EOFError), of at most ``limit`` bytes."""
    budget = [limit]
    try:
        header = json.loads(_frame(read, budget))
    except (ValueError, RecursionError):
        msg = "its header is not JSON"
        raise ChannelError(msg) from None
    count = header.get("arrays") if isinstance(header, dict) else None
    if not isinstance(count, int) or not 0 <= count <= _MAX_ARRAYS:
        msg = "its header is not an object with a number of arrays"
        raise ChannelError(msg)
    return header, [_array(_frame(read, budget)) for _ in range(count)]


def _frame(read: Callable[[int], bytes], budget: list[int]) -> bytes:
    (length,) = _LENGTH.unpack(read(_LENGTH.size))
    budget[0] -= _LENGTH.size + length
    if budget[0] < 0:
        msg = "it is longer than the checker allows"
        raise ChannelError(msg)
    return read(length)


def _array(data: bytes) -> FloatArray:
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except Exception:  # noqa: BLE001  (whatever the bytes are, they are not a .npy file)
        array = None
    if not isinstance(array, np.ndarray) or array.dtype not in (np.float32, np.float64):
        msg = "an array in it is not a .npy file of float32 or float64"
        raise ChannelError(msg)
    return array


def reader(fd: int) -> Callable[[int], bytes]:
    """``read(n)`` on a blocking file descriptor: exactly n bytes, or EOFError."""

    def read(n: int) -> bytes:
        data = bytearray()
        while len(data) < n:
            chunk = os.read(fd, n - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return bytes(data)

    return read


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to a blocking file descriptor."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
