"""The worker process as the checker sees it: start it, talk to it within a deadline, end it.

The worker (:mod:`reference_rnn.checker.worker`) runs the checker's own interpreter, with
``-P`` (no script or working directory at the head of ``sys.path``, so no file of the user's can
stand in for a module of the worker's own) and ``-u`` (what the code prints reaches the capture
file at once, even if the process is killed next). Its stdout and stderr are the capture file,
its stdin is empty, and it leads a session of its own: Ctrl-C at the terminal reaches the checker
only, and ending the worker's process group also ends whatever the code under test started.

Every wait has a deadline and looks at the process as it waits: a worker that ends, is killed or
sends something unreadable is a :class:`WorkerLostError` with the reason, a student's words for it.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from reference_rnn.checker import channel
from reference_rnn.core.validation import FloatArray

__all__ = ["WorkerLostError", "WorkerProcess", "exit_reason"]

#: The package's folder's parent: the worker imports this very package, whatever the user has.
_ROOT = str(Path(__file__).resolve().parents[2])
_BOOT = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from reference_rnn.checker.worker import main; sys.exit(main(sys.argv[2:]))"
)
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


class WorkerProcess:
    """One worker: started at once; :meth:`send` and :meth:`receive` by a deadline; :meth:`stop`.

    ``capture`` is the file descriptor its stdout and stderr write to; ``memory`` the megabytes
    of address space it may add once started (0: no limit).
    """

    def __init__(self, capture: int, memory: int) -> None:
        requests, self._requests = os.pipe()
        self._replies, replies = os.pipe()
        try:
            arguments = [str(requests), str(replies), str(memory)]
            self.process = subprocess.Popen(
                [sys.executable, "-P", "-u", "-c", _BOOT, _ROOT, *arguments],
                stdin=subprocess.DEVNULL,
                stdout=capture,
                stderr=capture,
                pass_fds=(requests, replies),
                start_new_session=True,
            )
        finally:
            os.close(requests)
            os.close(replies)
        os.set_blocking(self._requests, False)
        os.set_blocking(self._replies, False)
        self.stopped = False

    def send(self, data: bytes, deadline: float) -> None:
        """Write ``data`` to the worker's requests; TimeoutError past ``deadline``."""
        view = memoryview(data)
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
            return channel.decode(read, limit)
        except channel.ChannelError as exc:
            msg = f"the worker process sent back something unreadable: {exc}"
            raise WorkerLostError(msg) from None

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
            if self.process.poll() is not None:
                raise self._lost()

    def _lost(self) -> WorkerLostError:
        """Why the worker stopped answering: how it ended (killing it if it has not)."""
        try:
            code = self.process.wait(timeout=_ENDING)
        except subprocess.TimeoutExpired:
            self.stop(at_once=True)
            return WorkerLostError("the worker process closed the channel to the checker")
        return WorkerLostError(exit_reason(code))

    def stop(self, *, at_once: bool = False) -> None:
        """End the worker, after a moment for an idle one to end itself, and all it started."""
        if self.stopped:
            return
        self.stopped = True
        os.close(self._requests)  # the worker reads the end of its requests and returns
        if not at_once:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=_GRACE)
        with contextlib.suppress(OSError):  # none left
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        os.close(self._replies)
