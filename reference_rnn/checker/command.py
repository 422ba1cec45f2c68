"""``python -m reference_rnn check TARGET --api API [--dtype D] [--seed N] [--forward-only] [--json]
[--html PATH]``.

TARGET is ``path/to/file.py:NAME`` or ``package.module:NAME`` for a class (``dlfs2``,
``dlfs2-cell``, ``sprint``), or ``path/to/file.py`` or ``package.module`` for a module of functions
(``cs231n``). A file is run as a script would be, with its directory first on ``sys.path``.

The code is loaded and called only in a worker process, each call under ``--timeout`` and
``--memory-limit`` (:mod:`reference_rnn.checker.sandbox`); stdout holds the report, or exactly
one JSON document, whatever the code does. The battery's inputs are drawn from a fresh seed each
run (the report says which; ``--seed N`` draws them again); ``--forward-only`` lets a backward
that the API's exercise asks for be missing. Exit status: 0 when every check passes, 1 when one
fails (however the code failed it: raising, crashing, hanging, even while loading), 2 for a usage
error (TARGET does not exist, ``--timeout`` or ``--memory-limit`` out of range, ``--html`` into a
path that cannot be written, all found before anything runs; with ``--json``,
still one document, with an ``error``), 130 when stopped with Ctrl-C. A stdout that is closed or a
pipe without a reader leaves the status the verdict's, with one line on stderr. Every text from the
judged code is printed escaped (:mod:`reference_rnn.checker.printing`). ``--html`` says on stderr
where it wrote the page; without matplotlib the page has no plots and says how to get them.
"""

from __future__ import annotations

import argparse
import importlib
import json

from reference_rnn.checker.apis import APIS, TENSORS, with_tensors
from reference_rnn.checker.apis.calling import Output
from reference_rnn.checker.battery import DTYPES, SEEDS, Case
from reference_rnn.checker.boundary import known_user
from reference_rnn.checker.limits import megabytes, parsed, seconds
from reference_rnn.checker.printing import (
    OutputFile,
    OutputPathError,
    printable,
    say,
    write_stdout,
)
from reference_rnn.checker.sandbox import Limits, check_target
from reference_rnn.checker.target import TargetNotFoundError, load_target

__all__ = ["TargetNotFoundError", "add_arguments", "command", "load_target", "seed"]

_DEFAULTS = Limits()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``check``'s arguments.

    Long on purpose: the command's whole interface, one option after another, read in one place.
    """
    parser.add_argument(
        "target",
        metavar="TARGET",
        help="path/to/file.py:NAME or package.module:NAME (a class); "
        "path/to/file.py or package.module (functions, for --api cs231n)",
    )
    parser.add_argument("--api", required=True, choices=APIS, help="the interface TARGET has")
    parser.add_argument(
        "--tensors",
        choices=TENSORS,
        default=None,
        help="what TARGET takes: torch for --api cs231n written with torch tensors (EECS 498)",
    )
    parser.add_argument("--dtype", choices=DTYPES, default="float64", help="default: float64")
    parser.add_argument(
        "--seed",
        metavar="N",
        type=seed,
        default=None,
        help="draw the inputs from seed N, to run a check again (default: a fresh seed each "
        "run, said in the report)",
    )
    parser.add_argument(
        "--forward-only",
        action="store_true",
        help="a missing backward is not a failure where the exercise asks for one (cs231n, "
        "dlfs2): the forward is checked alone",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document instead")
    parser.add_argument(
        "--html",
        metavar="PATH",
        default=None,
        help="also write a page with each failing value's error (plots: the [report] extra)",
    )
    parser.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=_seconds,
        default=_DEFAULTS.timeout,
        help="the most that loading the code, or one call of it (a case's forward and "
        f"backward), may take before it is stopped and fails (default: {_DEFAULTS.timeout:g}; "
        "correct code takes milliseconds)",
    )
    parser.add_argument(
        "--memory-limit",
        metavar="MB",
        type=_megabytes,
        default=_DEFAULTS.memory,
        help="the memory (address space, RLIMIT_AS) the code may add to the process it runs in; "
        f"0 for no limit (default: {_DEFAULTS.memory})",
    )

    parser.add_argument(
        "--worker-user",
        metavar="NAME",
        default=None,
        help="when run as root, the unprivileged user the code under test runs as "
        "(default: nobody; docs/checking.md, Threat model)",
    )


def _seconds(text: str) -> float:
    try:
        return parsed(text, seconds, whole=False)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def seed(text: str) -> int:
    """``--seed``'s argument: an integer from 0 to 2**32 - 1 (ArgumentTypeError otherwise)."""
    number = int(text) if text.isdecimal() and len(text) <= len(str(SEEDS)) else -1
    if not 0 <= number < SEEDS:
        msg = f"must be an integer from 0 to {SEEDS - 1}, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return number


def _megabytes(text: str) -> int:
    try:
        return parsed(text, megabytes, whole=True)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def command(args: argparse.Namespace) -> int:
    """Check TARGET; the exit status (see the module's docstring)."""
    try:  # before anything runs: a page that cannot be written is a usage error, not a traceback
        page = None if args.html is None else OutputFile(args.html)
    except OutputPathError as exc:
        return _usage_error(args, f"argument --html: {exc}")
    rendered: list[str] = []  # the page, once the check has run
    try:
        return _check(args, rendered)
    finally:
        if page is not None and not rendered:
            page.discard()
        elif page is not None:
            page.write(rendered[0])
            say(f"reference-rnn check: wrote the HTML report to {printable(page.path)}")


def _check(args: argparse.Namespace, rendered: list[str]) -> int:
    html = None if args.html is None else importlib.import_module("reference_rnn.checker.html")
    steps: dict[str, list[float]] = {}  # check name -> its error per step or entry, for the page

    def observe(name: str, output: Output, case: Case) -> None:
        errors = None if html is None else html.value_errors(output, case)
        if errors is not None:
            steps[name] = errors

    limits = Limits(timeout=args.timeout, memory=args.memory_limit, worker_user=args.worker_user)
    try:
        api = with_tensors(args.api, args.tensors)
    except ValueError as exc:
        return _usage_error(args, f"argument --tensors: {exc}")
    if not known_user(args.worker_user):
        return _usage_error(args, f"argument --worker-user: no user {args.worker_user!r}")
    try:
        report = check_target(
            args.target,
            api=api,
            dtype=args.dtype,
            limits=limits,
            observe=observe,
            seed=args.seed,
            forward_only=args.forward_only,
        )
    except TargetNotFoundError as exc:
        return _usage_error(args, str(exc))
    except KeyboardInterrupt:  # the worker is gone already: the sandbox ended it
        say("reference-rnn check: interrupted")
        return 130
    text = json.dumps(report.to_json(), indent=2) if args.json else report.format()
    write_stdout(f"{text}\n", "reference-rnn check")  # the verdict's status even if it cannot
    if html is not None:
        rendered.append(html.render_check(report, steps))
    return 0 if report.passed else 1


def _usage_error(args: argparse.Namespace, message: str) -> int:
    """Say what is wrong on stderr (and with --json, as the one document on stdout); 2."""
    message = printable(message)
    say(f"reference-rnn check: error: {message}")
    if args.json:
        target = printable(args.target)
        document = {"passed": False, "api": args.api, "target": target, "dtype": args.dtype}
        write_stdout(
            json.dumps({**document, "error": message}, indent=2) + "\n", "reference-rnn check"
        )
    return 2
