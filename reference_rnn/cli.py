"""``reference-rnn COMMAND`` (also ``python -m reference_rnn COMMAND``): one subcommand a module.

Each command's module has ``add_arguments(parser)`` and ``command(args) -> exit code``; a bare
``reference-rnn`` runs ``verify``. A command line argparse refuses exits with status 2, as
argparse's own; with ``--json``, stdout still gets one JSON document, with the ``error``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from typing import NoReturn

__all__ = ["COMMANDS", "main"]

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
        "reference_rnn.checker.export",
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
        text = f"{self.format_usage()}{self.prog}: error: {message}\n"  # as argparse says it
        raise _UsageError(text, message)


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(
        prog="reference-rnn",
        description="A plain-NumPy reference Elman RNN: verify it, or check yours against it.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        importlib.import_module(module).add_arguments(sub)
    argv = sys.argv[1:] if argv is None else argv
    if not argv or (argv[0] not in COMMANDS and argv[0] not in ("-h", "--help")):
        argv = ["verify", *argv]  # `reference-rnn` and `reference-rnn --json` verify
    try:
        args = parser.parse_args(argv)
    except _UsageError as exc:
        sys.stderr.write(exc.text)
        if "--json" in argv:  # a caller that reads one JSON document gets one
            sys.stdout.write(json.dumps({"passed": False, "error": exc.message}) + "\n")
        raise SystemExit(2) from None
    return int(importlib.import_module(COMMANDS[args.command][0]).command(args))
