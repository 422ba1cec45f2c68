"""The pytest plugin: ``pytest --rnn-target TARGET --rnn-api API`` checks your RNN, a test per value.

Installed with the package (the ``pytest11`` entry point ``reference_rnn``) and off unless
``--rnn-target`` is given. Then the check runs once per dtype, the code under test in a worker
process as ``python -m reference_rnn check`` runs it, and each case, dtype and value is one test,
``test_rnn[cs231n-sample_h0-float64-dWh]``, whose failure gives the error against the tolerance,
the first failing time step and the mistake the diagnosis names. The run's diagnosis is printed
once at the end. ``--rnn-include`` and ``--rnn-exclude`` select by id pattern (``fnmatch``, as
often as needed); ``--rnn-xfail-file`` names a file of id patterns, one a line (``#`` comments),
whose tests are expected to fail (strictly: one that passes fails the run). ``--rnn-timeout`` and
``--rnn-memory-limit`` are ``check``'s ``--timeout`` and ``--memory-limit``, range-checked before
anything runs; a TARGET that does not exist is a usage error too (one ``ERROR:`` line, exit 4).
"""

from __future__ import annotations

from collections.abc import Callable
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
from reference_rnn.checker.runner import Report
from reference_rnn.checker.sandbox import Limits
from reference_rnn.checker.target import TargetNotFoundError
from reference_rnn.testing.items import CheckedValue, checked_values

__all__ = ["RNNCheckItem"]

_REPORTS = pytest.StashKey[list[Report]]()
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
    group.addoption("--rnn-api", choices=APIS, default="cs231n", help="its API (cs231n)")
    group.addoption(
        "--rnn-tensors", choices=TENSORS, help="torch: --rnn-api cs231n written with torch tensors"
    )
    group.addoption(
        "--rnn-dtype",
        action="append",
        choices=DTYPES,
        help="a dtype to check (float64), repeatable",
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
    """The numeric options, range-checked before anything runs: one ``ERROR:`` line, exit 4."""
    config.stash[_LIMITS_KEY] = Limits(
        timeout=_option(config, "--rnn-timeout", seconds, whole=False, default=_LIMITS.timeout),
        memory=_option(config, "--rnn-memory-limit", megabytes, whole=True, default=_LIMITS.memory),
        worker_user=config.getoption("rnn_worker_user"),
    )


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


@pytest.hookimpl(tryfirst=True)  # before -k and -m deselect
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    target = config.getoption("rnn_target")
    if not target:
        return
    dtypes = config.getoption("rnn_dtype") or ["float64"]
    try:
        api = with_tensors(config.getoption("rnn_api"), config.getoption("rnn_tensors"))
    except ValueError as exc:
        msg = f"--rnn-tensors: {exc}"
        raise pytest.UsageError(msg) from None
    limits = config.stash.get(_LIMITS_KEY, _LIMITS)
    try:
        values = checked_values(
            target,
            api=api,
            dtypes=dtypes,
            limits=limits,
            seed=config.getoption("rnn_seed"),
            forward_only=config.getoption("rnn_forward_only"),
        )
    except TargetNotFoundError as exc:
        raise pytest.UsageError(printable(f"--rnn-target: {exc}")) from None
    config.stash[_REPORTS] = list({id(v.report): v.report for v in values}.values())
    include, exclude = config.getoption("rnn_include"), config.getoption("rnn_exclude")
    xfails = _patterns(config.getoption("rnn_xfail_file"))
    for value in values:
        if include and not _matches(value.id, include):
            continue
        if _matches(value.id, exclude):
            continue
        name = f"test_rnn[{value.id}]"
        item = RNNCheckItem.from_parent(session, name=name, nodeid=f"rnn::{name}", value=value)
        if _matches(value.id, xfails):
            item.add_marker(pytest.mark.xfail(reason="listed in --rnn-xfail-file", strict=True))
        items.append(item)


def _matches(name: str, patterns: list[str]) -> bool:
    return any(fnmatchcase(name, pattern) for pattern in patterns)


def _patterns(path: str | None) -> list[str]:
    if path is None:
        return []
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    for report in config.stash.get(_REPORTS, []):
        terminalreporter.write_sep("=", f"reference_rnn: {report.heading}")
        if report.seed is not None:
            terminalreporter.write_line(f"inputs drawn from seed {report.seed} (--rnn-seed)")
        for diagnosis in report.diagnoses:
            terminalreporter.write_line(mistake_line(diagnosis.mistake))
            terminalreporter.write_line(f"  {diagnosis.evidence_line()}")
        if report.unexplained:
            terminalreporter.write_line(
                f"failed checks no catalogued mistake explains: {', '.join(report.unexplained)}"
            )
        terminalreporter.write_line(report.verdict)
