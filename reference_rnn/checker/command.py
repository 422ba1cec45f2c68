"""``python -m reference_rnn check TARGET --api API [--dtype D] [--json] [--html PATH]``.

TARGET is ``path/to/file.py:NAME`` or ``package.module:NAME`` for a class (``dlfs2``,
``dlfs2-cell``, ``sprint``), or ``path/to/file.py`` or ``package.module`` for a module of functions
(``cs231n``). A file is run as a script would be, with its directory first on ``sys.path``.

Exit status: 0 when every check passes, 1 when one fails (code that raises while loading is a
failed check too), 2 when TARGET does not exist (or ``--html`` is given without matplotlib).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

from reference_rnn.checker.apis import APIS
from reference_rnn.checker.apis.calling import Output, UserCodeError, call_user
from reference_rnn.checker.battery import DTYPES, Case
from reference_rnn.checker.runner import Check, Report, run
from reference_rnn.core.measure import TOLERANCE

__all__ = ["TargetNotFoundError", "add_arguments", "command", "load_target"]


class TargetNotFoundError(LookupError):
    """TARGET names no file, module or attribute."""


def load_target(target: str) -> object:
    """The class or module TARGET names; UserCodeError when its code raises while loading."""
    source, name = target, ""
    head, sep, tail = target.rpartition(":")
    if sep and tail.isidentifier():
        source, name = head, tail
    if source.endswith(".py") or "/" in source:
        module = _load_file(Path(source))
    else:
        module = _import(source)
    if not name:
        return module
    if name not in vars(module):
        msg = f"{source} has no {name}"
        raise TargetNotFoundError(msg)
    return vars(module)[name]


def _load_file(path: Path) -> ModuleType:
    if not path.is_file():
        msg = f"no file {path}"
        raise TargetNotFoundError(msg)
    spec = importlib.util.spec_from_file_location(f"_checked_{path.stem}", path)
    assert spec is not None  # a .py file always has a spec and a loader
    assert spec.loader is not None
    loader = spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # for dataclasses and pickling in the user's file
    sys.path.insert(0, str(path.parent.resolve()))  # its own imports, as when run as a script
    try:
        call_user(f"loading {path}", lambda: loader.exec_module(module))
    finally:
        sys.path.remove(str(path.parent.resolve()))
    return module


def _import(name: str) -> ModuleType:
    try:
        found = importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a missing parent package, an empty name
        found = False
    if not found:
        msg = f"no module {name!r} (and no file: a file's name ends in .py)"
        raise TargetNotFoundError(msg)
    module: ModuleType = call_user(f"import {name}", lambda: importlib.import_module(name))
    return module


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``check``'s arguments."""
    parser.add_argument(
        "target",
        metavar="TARGET",
        help="path/to/file.py:NAME or package.module:NAME (a class); "
        "path/to/file.py or package.module (functions, for --api cs231n)",
    )
    parser.add_argument("--api", required=True, choices=APIS, help="the interface TARGET has")
    parser.add_argument("--dtype", choices=DTYPES, default="float64", help="default: float64")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead")
    parser.add_argument(
        "--html",
        metavar="PATH",
        default=None,
        help="also write a page with the error per time step (needs the [report] extra)",
    )


def command(args: argparse.Namespace) -> int:
    """Check TARGET; 0 when every check passes, 1 when one fails, 2 when TARGET is not found."""
    html = None if args.html is None else importlib.import_module("reference_rnn.checker.html")
    steps: dict[str, list[float]] = {}  # check name -> its error per time step, for the page
    if html is not None:
        try:
            html.require_matplotlib()
        except ImportError as exc:
            sys.stderr.write(f"reference-rnn check: error: {exc}\n")
            return 2

    def observe(name: str, output: Output, case: Case) -> None:
        errors = None if html is None else html.step_errors(output, case)
        if errors is not None:
            steps[name] = errors  # needs: matplotlib

    try:
        obj = load_target(args.target)
    except TargetNotFoundError as exc:
        sys.stderr.write(f"reference-rnn check: error: {exc}\n")
        return 2
    except UserCodeError as exc:
        load = Check("load/TARGET", False, None, TOLERANCE[args.dtype], str(exc))
        report = Report(args.api, args.target, args.dtype, [load], [])
    else:
        report = run(obj, api=args.api, dtype=args.dtype, target=args.target, observe=observe)
    if args.json:
        sys.stdout.write(json.dumps(report.to_json(), indent=2) + "\n")
    else:
        sys.stdout.write(report.format() + "\n")
    if html is not None:
        html.write_check(report, args.html, steps)  # needs: matplotlib
    return 0 if report.passed else 1
