"""The pytest plugin: ``pytest --rnn-target TARGET --rnn-api API`` checks your RNN, a test per value.

Installed with the package (the ``pytest11`` entry point ``reference_rnn``) and off unless
``--rnn-target`` is given. Then the check runs once per dtype as collection starts, the code under
test in a worker process as ``python -m reference_rnn check`` runs it, and TARGET's file is
collected as any test file is (added to the paths pytest collects unless one holds it): each
case, dtype and value is one test of it,
``rnn_layers.py::test_rnn[rnn_step_backward-sample-h0-float64-dWh]``, named after the user's
function or method, the case as the battery spells it, the dtype and the value. Its failure
gives the error against the tolerance, the first failing time step, the mistake the diagnosis
names, and the first mismatching element with its actual and expected values. The run's
diagnosis is printed once at the end. Pytest never imports the file, nor a package that holds
it: that package is collected as a plain folder.

Selecting works as for any test: ``-k``, ``--lf``, ``--deselect`` and the node ids pytest prints.
``--rnn-include`` and ``--rnn-exclude`` select by id pattern (``fnmatch``, as often as needed);
``--rnn-xfail-file`` names a file of id patterns, one a line (``#`` comments), whose tests are
expected to fail (strictly: one that passes fails the run). ``--rnn-timeout`` and
``--rnn-memory-limit`` are ``check``'s ``--timeout`` and ``--memory-limit``. A wrong option (an
API, dtype or tensors that does not exist, a number out of range, a TARGET that does not exist,
an xfail file that cannot be read) is a usage error: one ``ERROR:`` line, exit 4.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from difflib import get_close_matches
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, TypeVar

import pytest

from reference_rnn.checker.apis import APIS, TENSORS, with_tensors
from reference_rnn.checker.battery import DTYPES
from reference_rnn.checker.command import seed
from reference_rnn.checker.diagnosis import mistake_line
from reference_rnn.checker.limits import megabytes, parsed, seconds
from reference_rnn.checker.printing import printable
from reference_rnn.checker.sandbox import Limits
from reference_rnn.checker.target import TargetNotFoundError, source_file
from reference_rnn.testing.items import CheckedValue, checked_values

__all__ = ["CheckedFile", "RNNCheckItem"]


@dataclass(frozen=True)
class _Run:
    """What ``--rnn-target`` asks for, checked before anything runs."""

    target: str
    api: str
    dtypes: list[str]
    file: Path  # TARGET's file, whose items are the check's values
    xfails: list[str]


_RUN = pytest.StashKey[_Run]()
_VALUES = pytest.StashKey[list[CheckedValue]]()
_COLLECTED = pytest.StashKey[bool]()  # TARGET's file was collected
_LIMITS_KEY = pytest.StashKey[Limits]()
_LIMITS = Limits()  # the command's defaults
T = TypeVar("T")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("reference-rnn", "checking an RNN against reference_rnn")
    group.addoption(
        "--rnn-target",
        metavar="TARGET",
        help="the RNN to check: path/to/file.py[:Class] or package.module[:Class]",
    )
    # no argparse choices: a wrong name is one ERROR: line (pytest_configure), not a usage text
    group.addoption(
        "--rnn-api", default="cs231n", help=f"its API, one of {', '.join(APIS)} (cs231n)"
    )
    group.addoption(
        "--rnn-tensors",
        help=f"{' or '.join(TENSORS)}; torch: --rnn-api cs231n written with torch tensors",
    )
    group.addoption(
        "--rnn-dtype",
        action="append",
        help=f"a dtype to check, {' or '.join(DTYPES)} (float64), repeatable",
    )
    group.addoption(
        "--rnn-seed",
        type=seed,
        metavar="N",
        help="draw the inputs from seed N, to run a check again (default: a fresh seed each run)",
    )
    group.addoption(
        "--rnn-forward-only",
        action="store_true",
        help="a missing backward is not a failure where the exercise asks for one",
    )
    group.addoption(
        "--rnn-include", action="append", default=[], metavar="PATTERN", help="run only these ids"
    )
    group.addoption(
        "--rnn-exclude", action="append", default=[], metavar="PATTERN", help="leave out these ids"
    )
    group.addoption(
        "--rnn-worker-user",
        metavar="NAME",
        help="when run as root, the unprivileged user the code under test runs as (nobody)",
    )
    group.addoption(
        "--rnn-xfail-file", metavar="FILE", help="id patterns expected to fail, one a line"
    )
    group.addoption(
        "--rnn-timeout",
        metavar="SECONDS",
        help=f"the most loading the code, or one call of it, may take ({_LIMITS.timeout:g})",
    )
    group.addoption(
        "--rnn-memory-limit",
        metavar="MB",
        help=f"the memory the code may add to its process, 0 for no limit ({_LIMITS.memory})",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Every option checked before anything runs: one ``ERROR:`` line, exit 4, for a wrong one.

    With ``--rnn-target``, TARGET's file is added to the paths pytest collects, unless an
    argument names it (``rnn_layers.py::test_rnn[...]`` selects its items) or a folder that
    holds it (pytest's search finds it there).
    """
    config.stash[_LIMITS_KEY] = Limits(
        timeout=_option(config, "--rnn-timeout", seconds, whole=False, default=_LIMITS.timeout),
        memory=_option(config, "--rnn-memory-limit", megabytes, whole=True, default=_LIMITS.memory),
        worker_user=config.getoption("rnn_worker_user"),
    )
    target = config.getoption("rnn_target")
    if not target:
        return
    dtypes = list(dict.fromkeys(config.getoption("rnn_dtype") or ["float64"]))  # each once
    for dtype in dtypes:
        _choice("--rnn-dtype", dtype, DTYPES)
    api = _choice("--rnn-api", config.getoption("rnn_api"), APIS)
    tensors = config.getoption("rnn_tensors")
    try:
        api = with_tensors(api, tensors and _choice("--rnn-tensors", tensors, TENSORS))
    except ValueError as exc:
        raise pytest.UsageError(printable(f"--rnn-tensors: {exc}")) from None
    try:
        file = source_file(target)
    except TargetNotFoundError as exc:
        raise pytest.UsageError(printable(f"--rnn-target: {exc}")) from None
    xfails = _patterns(config.getoption("rnn_xfail_file"))
    config.stash[_RUN] = _Run(target, api, dtypes, file, xfails)
    here = config.invocation_params.dir
    named = [(here / arg.partition("[")[0].split("::")[0]).resolve() for arg in config.args]
    relative = os.path.relpath(file, here)
    # pytest reads a [ as an id's parameters; and pytest 8 given a folder and a file in it
    # collects the file alone
    if not any(file.is_relative_to(path) for path in named) and "[" not in relative:
        config.args.append(relative)


def _choice(flag: str, name: str, choices: tuple[str, ...]) -> str:
    """``name`` if it is one of ``choices``; a UsageError naming the option and the likely one."""
    if name in choices:
        return name
    close = get_close_matches(name, choices, n=1)
    maybe = f" (did you mean {close[0]}?)" if close else ""
    msg = printable(f"{flag}: must be one of {', '.join(choices)}, got {name!r}{maybe}")
    raise pytest.UsageError(msg)


def _option(
    config: pytest.Config, flag: str, check: Callable[[object], T], *, whole: bool, default: T
) -> T:
    text = config.getoption(flag.lstrip("-").replace("-", "_"))
    if text is None:
        return default
    try:
        return parsed(text, check, whole=whole)
    except ValueError as exc:
        msg = printable(f"argument {flag}: {exc}")
        raise pytest.UsageError(msg) from None


@pytest.hookimpl(tryfirst=True)
def pytest_collection(session: pytest.Session) -> None:
    """The check, run as collection starts: its values are TARGET's file's items."""
    config = session.config
    run = config.stash.get(_RUN, None)
    if run is None:
        return
    try:
        config.stash[_VALUES] = checked_values(
            run.target,
            api=run.api,
            dtypes=run.dtypes,
            limits=config.stash[_LIMITS_KEY],
            seed=config.getoption("rnn_seed"),
            forward_only=config.getoption("rnn_forward_only"),
        )
    except TargetNotFoundError as exc:  # its NAME, which only loading the code finds missing
        raise pytest.UsageError(printable(f"--rnn-target: {exc}")) from None


@pytest.hookimpl(wrapper=True)
def pytest_collect_file(
    file_path: Path, parent: pytest.Collector
) -> Generator[None, list[Any], list[Any]]:
    """TARGET's file is the check's, whatever else would collect it: importing it here would
    run the code under test in pytest's process."""
    collected = yield
    run = parent.config.stash.get(_RUN, None)
    if run is None or file_path.name != run.file.name or file_path.resolve() != run.file:
        return collected
    checked = CheckedFile.from_parent(parent, path=file_path)
    shown = printable(checked.nodeid)
    if shown != checked.nodeid:  # pytest prints node ids as they are: a name must not forge lines
        checked = CheckedFile.from_parent(parent, path=file_path, nodeid=shown)
    return [checked]


@pytest.hookimpl(wrapper=True)
def pytest_collect_directory(path: Path, parent: pytest.Collector) -> Generator[None, Any, Any]:
    """A package that holds TARGET's file is collected as a plain folder: pytest sets a package
    up by importing its ``__init__.py``, the code under test's own."""
    collector = yield
    run = parent.config.stash.get(_RUN, None)
    if run is None or not isinstance(collector, pytest.Package):
        return collector
    if not run.file.is_relative_to(path.resolve()):
        return collector
    return pytest.Dir.from_parent(parent, path=path)


class CheckedFile(pytest.File):
    """TARGET's file: an item per value of the check, never imported."""

    def collect(self) -> Iterator[RNNCheckItem]:
        config = self.config
        config.stash[_COLLECTED] = True
        include, exclude = config.getoption("rnn_include"), config.getoption("rnn_exclude")
        xfails = config.stash[_RUN].xfails
        for value in config.stash[_VALUES]:
            if include and not _matches(value.id, include):
                continue
            if _matches(value.id, exclude):
                continue
            name = f"test_rnn[{value.id}]"
            # the id given whole, so that pytest (9's structured ids) parses its [parameters]
            # as it parses the ids that --lf reads back and a command line passes
            nodeid = f"{self.nodeid}::{name}"
            item = RNNCheckItem.from_parent(self, name=name, nodeid=nodeid, value=value)
            if _matches(value.id, xfails):
                item.add_marker(pytest.mark.xfail(reason="listed in --rnn-xfail-file", strict=True))
            yield item


class RNNCheckItem(pytest.Item):
    """One value of one case of the check: it passes or fails as the checker measured it."""

    def __init__(self, *, value: CheckedValue, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.value = value

    def runtest(self) -> None:
        if not self.value.passed:
            raise _ValueFailedError(self.value.failure())

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:  # noqa: ARG002
        return str(excinfo.value)  # the failure's lines, without the plugin's traceback

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, self.name


class _ValueFailedError(AssertionError):
    """A value of the check failed: the message is the whole failure."""


def _matches(name: str, patterns: list[str]) -> bool:
    return any(fnmatchcase(name, pattern) for pattern in patterns)


def _patterns(path: str | None) -> list[str]:
    if path is None:
        return []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise pytest.UsageError(printable(f"--rnn-xfail-file: cannot read {path}: {why}")) from None
    return [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if config.option.collectonly:
        return  # the check ran, to list its items; its verdict is a run's
    values = config.stash.get(_VALUES, [])
    for report in {id(v.report): v.report for v in values}.values():
        terminalreporter.write_sep("=", f"reference_rnn: {report.heading}")
        if report.seed is not None:
            terminalreporter.write_line(f"inputs drawn from seed {report.seed} (--rnn-seed)")
        for diagnosis in report.diagnoses:
            terminalreporter.write_line(mistake_line(diagnosis.mistake))
            terminalreporter.write_line(f"  {diagnosis.evidence_line()}")
        if report.unexplained:
            unexplained = [
                v.id for v in values if v.report is report and v.check.name in report.unexplained
            ]
            terminalreporter.write_line(
                f"failed checks no catalogued mistake explains: {', '.join(unexplained)}"
            )
            for line in report.looks:
                terminalreporter.write_line(f"  {line}")
        terminalreporter.write_line(report.verdict)
    if values and not config.stash.get(_COLLECTED, False):
        file = printable(os.path.relpath(config.stash[_RUN].file))
        terminalreporter.write_line(
            f"reference_rnn: {file} holds the checks, but pytest's search did not reach it: "
            "name it, or a folder that holds it, on the command line"
        )
