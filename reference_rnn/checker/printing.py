"""What the checker prints: every text from the judged code made printable, and the report written.

- :func:`printable` is the one function through which every text that comes from the judged code
  (TARGET as given, its file, module, class and function names, the messages it raises, what it
  prints) reaches a report: the text, the JSON document, the HTML page, the pytest plugin's lines
  and the command's one-line errors. It cuts first, so that a message of 10 MB costs no more than
  one of a line, then escapes: a newline, a control character, an ANSI escape, a bidirectional
  override or an unpaired surrogate is shown as its escape (``\\n``, ``\\x1b``, ``\\u202e``), so
  that no text adds or forges a line. It is idempotent.
- :func:`cut` only cuts: the worker cuts what it sends before anything else is done with it.
- :func:`write_stdout` writes the report to a stdout that may be closed, or a pipe whose reader
  has gone: the exit status stays the verdict's, and stderr says in one line what happened.
- :class:`OutputFile` is a file the checker writes (``--html PATH``), opened before anything
  runs, so that a path it cannot write is a usage error up front: never through a symbolic link,
  only a regular file (a FIFO, a device or a folder is refused without blocking), in a folder
  that exists. The checker then writes through what it opened, whatever becomes of the path.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

__all__ = [
    "LONGEST",
    "OutputFile",
    "OutputPathError",
    "check_id",
    "check_title",
    "cut",
    "printable",
    "say",
    "write_stdout",
]

#: The most characters of one text from the judged code that is ever kept, anywhere.
LONGEST = 4000


def cut(text: str, limit: int = LONGEST) -> str:
    """``text`` cut to ``limit`` characters, its end marked ``...``; nothing else is done to it."""
    return text if len(text) <= limit else f"{text[: max(limit - 3, 0)]}..."


def printable(text: str, limit: int = LONGEST) -> str:
    """``text`` on one line, cut to ``limit`` characters, control characters escaped.

    Cut before escaping (escaping a character makes up to ten), then cut again.
    """
    head = text[: limit + 1]  # one more: the final cut still sees that there was more
    shown = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in head.expandtabs(4))
    return cut(shown if len(head) <= limit else f"{shown}...", limit)


def check_title(function: str, value: str, case: str = "") -> str:
    """How every report names one check, the one spelling of it: the user's function or method,
    the value it returned and the battery's name of the case.

    ``check_title("rnn_step_backward", "dWh", "sample-h0") == "rnn_step_backward: dWh of case
    sample-h0"``; a check of no case (a missing function, the target that did not load) is
    ``rnn_backward: exists``.
    """
    return f"{function}: {value}{f' of case {case}' if case else ''}"


def check_id(function: str, case: str, dtype: str, value: str) -> str:
    """A check's test id (pytest's node id): :func:`check_title`'s parts, the case spelled the
    same, joined by ``-``: ``rnn_step_backward-sample-h0-float64-dWh``."""
    return "-".join(part for part in (function, case, dtype, value) if part)


def say(line: str) -> None:
    """One line on stderr; nothing if stderr is closed."""
    try:
        if sys.stderr is not None:
            sys.stderr.write(f"{line}\n")
            sys.stderr.flush()
    except (OSError, ValueError):  # closed, or a pipe without a reader: nobody to tell
        pass


def write_stdout(text: str, what: str) -> bool:
    """Write ``text`` to stdout and flush it; False, with a line on stderr, if it could not be.

    ``what`` names the writer in that line (``reference-rnn check``). A stdout that is a pipe
    whose reader has gone is pointed at the null device, so that Python's own flush at exit
    finds nothing left to write.
    """
    try:
        if sys.stdout is None:
            msg = "stdout is closed"
            raise OSError(msg)
        sys.stdout.write(text)
        sys.stdout.flush()
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        say(f"{what}: could not write the report to stdout: {reason}")
        _quiet_stdout()
        return False
    return True


def _quiet_stdout() -> None:
    """Point file descriptor 1 at the null device (the command keeps it open: cli.main)."""
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
    finally:
        os.close(null)


class OutputPathError(ValueError):
    """A path the checker cannot write a file to: the message says why, in one line."""


class OutputFile:
    """A regular file opened for writing at once (see the module's docstring); nothing written yet.

    :meth:`write` replaces its content and closes it; :meth:`discard` closes it, removing it if
    it was made here. OutputPathError for a path that is refused.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd, self._created = _opened(path)

    def write(self, text: str) -> None:
        try:
            os.ftruncate(self._fd, 0)
            data = memoryview(text.encode("utf-8"))
            while data:
                data = data[os.write(self._fd, data) :]
        finally:
            os.close(self._fd)

    def discard(self) -> None:
        os.close(self._fd)
        if self._created:
            Path(self.path).unlink()


_WRITE = os.O_WRONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def _opened(path: str) -> tuple[int, bool]:
    """A file descriptor for writing ``path``, and whether the file was made here."""
    shown = printable(path)
    try:
        found: os.stat_result | None = os.lstat(path)
    except FileNotFoundError:
        found = None
    except OSError as exc:  # a part of the path that is a file, a name too long, ...
        msg = f"cannot write {shown}: {exc.strerror}"
        raise OutputPathError(msg) from None
    if found is not None:
        _refuse_unless_regular(found.st_mode, shown)
    folder = Path(path).parent
    if not folder.is_dir():
        msg = f"no folder {printable(str(folder))} for {shown}"
        raise OutputPathError(msg)
    try:
        try:
            fd, created = os.open(path, _WRITE | os.O_CREAT | os.O_EXCL, 0o644), True
        except FileExistsError:
            fd, created = os.open(path, _WRITE), False
    except OSError as exc:  # read-only, not ours, a link or a FIFO put there since
        msg = f"cannot write {shown}: {exc.strerror}"
        raise OutputPathError(msg) from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):  # a device that opened: put there since the lstat
        os.close(fd)
        _refuse_unless_regular(mode, shown)
    return fd, created


def _refuse_unless_regular(mode: int, shown: str) -> None:
    if stat.S_ISLNK(mode):
        msg = f"{shown} is a symbolic link: the checker follows none"
        raise OutputPathError(msg)
    if stat.S_ISDIR(mode):
        msg = f"{shown} is a folder"
        raise OutputPathError(msg)
    if not stat.S_ISREG(mode):
        msg = f"{shown} is not a regular file (a FIFO, a socket or a device)"
        raise OutputPathError(msg)
