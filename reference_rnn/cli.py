"""``reference-rnn COMMAND`` (also ``python -m reference_rnn COMMAND``): one subcommand a module.

Each command's module has ``add_arguments(parser)`` and ``command(args) -> exit code``; a bare
``reference-rnn`` runs ``verify``, and so does a command line that starts with an option
(``reference-rnn --json``); a first word that is no command is a usage error that lists them. A
command line argparse refuses exits with status 2, as argparse's own; with ``--json``, stdout
still gets one JSON document, with the ``error``.

The console script (:func:`console`) imports nothing from the working folder; ``check`` finds
``package.module`` targets there all the same, in its worker, as ``python -m reference_rnn`` does.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from typing import NoReturn

from reference_rnn import __version__
from reference_rnn.checker.printing import printable, say, write_stdout

__all__ = ["COMMANDS", "console", "main"]

#: command -> (its module, one line of help)
COMMANDS: dict[str, tuple[str, str]] = {
    "verify": (
        "reference_rnn.verify.command",
        "the verification report: every check of this package",
    ),
    "check": (
        "reference_rnn.checker.command",
        "check your RNN against the reference and name its mistake",
    ),
    "export": (
        "reference_rnn.export.command",
        "write the check cases as .npz files for any language",
    ),
}


class _UsageError(Exception):
    """A command line argparse refuses: what argparse would print, and its message alone."""

    def __init__(self, text: str, message: str) -> None:
        super().__init__(text)
        self.text, self.message = text, message


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        message = printable(message)  # an argument may hold a newline: one line all the same
        text = f"{self.format_usage()}{self.prog}: error: {message}\n"  # as argparse says it
        raise _UsageError(text, message)


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(
        prog="reference-rnn",
        description="A plain-NumPy reference Elman RNN: verify it, or check yours against it.",
    )
    parser.add_argument("--version", action="version", version=f"reference-rnn {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        importlib.import_module(module).add_arguments(sub)
    argv = sys.argv[1:] if argv is None else argv
    _standard_files_open()
    try:
        if argv and argv[0] not in COMMANDS and not argv[0].startswith("-"):
            parser.error(f"unknown command {argv[0]!r} (choose from {', '.join(COMMANDS)})")
        if not argv or argv[0] not in (*COMMANDS, "-h", "--help", "--version"):
            argv = ["verify", *argv]  # `reference-rnn` and `reference-rnn --json` verify
        args = parser.parse_args(argv)
    except _UsageError as exc:
        say(exc.text.removesuffix("\n"))
        if "--json" in argv:  # a caller that reads one JSON document gets one
            document = json.dumps({"passed": False, "error": exc.message})
            write_stdout(f"{document}\n", "reference-rnn")
        raise SystemExit(2) from None
    return int(importlib.import_module(COMMANDS[args.command][0]).command(args))


def _standard_files_open() -> None:
    """File descriptors 0, 1 and 2 open, on the null device where they were closed.

    Started with stdout closed (``>&-``), the next file the checker opens would otherwise be
    given descriptor 1; the report's writer then says that stdout was closed (sys.stdout is
    None), and the exit status is still the verdict's.
    """
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:  # the lowest free descriptor: this one, the lower ones being open
            os.open(os.devnull, os.O_RDWR)


def console() -> int:
    """The ``reference-rnn`` script: :func:`main`, its imports never from the working folder.

    A console script has its own folder at the head of ``sys.path``, not the working folder, and
    this adds nothing: a ``numpy.py`` or ``reference_rnn.py`` where it runs is never imported by
    the checker. The worker finds ``package.module`` targets in the working folder
    (:func:`reference_rnn.checker.target.search_path`), as ``python -m`` finds them.
    """
    return main()
