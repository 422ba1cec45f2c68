"""A second project's pytest suite checks its RNNs: the plugin, and the one-line parametrization.

The project (written here, in a temporary folder) has a correct RNN and a buggy one that ignores
the initial state; it runs under ``-W error``, as a project with ``filterwarnings = ["error"]``
does. The correct one passes every item; the buggy one fails exactly the items whose case starts
from a non-zero state, each failure naming the mistake. Each run checks in worker processes, as
the command does: few runs, so that the suite stays fast.
"""

from __future__ import annotations

import re
import sys
from types import SimpleNamespace

import pytest

from reference_rnn import testing
from reference_rnn.checker.apis import APIS
from reference_rnn.checker.battery import DTYPES
from reference_rnn.checker.runner import Check, Report
from reference_rnn.checker.target import search_path
from reference_rnn.testing import plugin as pytest_plugin

pytest_plugins = ["pytester"]

GOOD = '''\
"""A correct Elman RNN: CS231n's functions, written from the equations."""
import numpy as np


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
    return next_h, (x, prev_h, Wx, Wh, next_h)


def rnn_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1 - next_h**2)
    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(0)


def rnn_forward(x, h0, Wx, Wh, b):
    N, T, D = x.shape
    h, caches, prev = np.empty((N, T, Wh.shape[0]), x.dtype), [], h0  # START
    for t in range(T):
        prev, cache = rnn_step_forward(x[:, t], prev, Wx, Wh, b)
        h[:, t] = prev
        caches.append(cache)
    return h, caches


def rnn_backward(dh, caches):
    N, T, H = dh.shape
    dx = np.empty((N, T, caches[0][0].shape[1]), dh.dtype)
    dWx, dWh, db = 0, 0, 0
    dprev = np.zeros((N, H), dh.dtype)
    for t in reversed(range(T)):
        dx[:, t], dprev, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t] + dprev, caches[t])
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    return dx, dprev, dWx, dWh, db
'''
#: The buggy one: every sequence starts from zeros, whatever h0 is
BAD = GOOD.replace("h0  # START", "np.zeros_like(h0)  # h0 ignored")

ONE_LINE = """\
import pytest
from reference_rnn import testing


@pytest.mark.parametrize(*testing.parametrize("myrnn.{name}", api="cs231n", seed=0))
def test_{name}(rnn_check):
    rnn_check.assert_passed()
"""
VALUES = ("h", "dx", "dh0", "dWx", "dWh", "db")
RUN = ("-W", "error", "-p", "no:cacheprovider", "-v")


def _h0_cases(dtype: str) -> set[str]:
    """The battery's cases that start from a non-zero state: the ones the bug changes."""
    return {case.name.replace("-", "_") for case in testing.cases(dtype) if not case.zero_h0}


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(**{"myrnn/__init__.py": "", "myrnn/good.py": GOOD, "myrnn/bad.py": BAD})
    return pytester


def _outcomes(output: str) -> dict[str, str]:
    return dict(re.findall(r"(\S+\[\S+\]) (PASSED|FAILED|XFAIL)", output))


def _failure(output: str, test: str) -> list[str]:
    """The lines of ``test``'s failure in pytest's report."""
    section = re.search(rf"_ {re.escape(test)} _+\n(.*?)\n(?:_|=)", output, re.DOTALL)
    assert section is not None, output
    return section.group(1).splitlines()


def test_the_plugin_passes_the_good_rnn_and_the_one_line_fails_the_bad_one_where_h0_matters(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(test_bad=ONE_LINE.format(name="bad"))
    result = project.runpytest_inprocess(*RUN, "--rnn-target", "myrnn.good")
    outcomes = _outcomes(result.stdout.str())
    good = {name: o for name, o in outcomes.items() if name.startswith("rnn::test_rnn[")}
    assert len(good) == 120
    assert set(good.values()) == {"PASSED"}
    failed = {name for name, o in outcomes.items() if o == "FAILED"}
    assert failed == {
        f"test_bad.py::test_bad[cs231n-{case}-float64-{value}]"
        for case in _h0_cases("float64")
        for value in VALUES
    }
    assert len(outcomes) == 240
    assert _failure(result.stdout.str(), "test_bad[cs231n-batch_h0-float64-dWh]") == [
        "",
        "rnn_check = <CheckedValue cs231n-batch_h0-float64-dWh: failed>",
        "",
        '    @pytest.mark.parametrize(*testing.parametrize("myrnn.bad", api="cs231n", seed=0))',
        "    def test_bad(rnn_check):",
        ">       rnn_check.assert_passed()",  # __tracebackhide__: the test's line, not ours
        (
            "E       AssertionError: dWh of case batch-h0 (myrnn.bad as cs231n, float64): "
            "ignores-initial-state"
        ),
        "E         error 0.585 > tolerance 1e-12 (max|actual - expected| / max|expected|)",
        (
            "E         mistake: ignores-initial-state: the initial state (h0, h_prev) is not used: "
            "every sequence starts from zeros"
        ),
        "",
        "test_bad.py:7: AssertionError",
    ]


def test_the_plugin_fails_the_bad_rnn_where_h0_matters_selects_and_xfails_by_id(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(test_good=ONE_LINE.format(name="good"))
    project.makefile(".txt", xfails="# known\ncs231n-sample_h0-float32-*\n\n")
    result = project.runpytest_inprocess(
        *(*RUN, "--rnn-target", "myrnn.bad", "--rnn-dtype", "float32", "--rnn-seed", "0"),
        *("--rnn-exclude", "cs231n-step_*", "--rnn-include", "cs231n-[!o]*"),
        *("--rnn-xfail-file", "xfails.txt"),
    )
    output = result.stdout.str()
    outcomes = _outcomes(output)
    good = {name: o for name, o in outcomes.items() if name.startswith("test_good.py::")}
    assert len(good) == 120
    assert set(good.values()) == {"PASSED"}
    bad = {f"rnn::test_rnn[cs231n-{c}-float32-{v}]" for c in _h0_cases("float32") for v in VALUES}
    xfailed = {f"rnn::test_rnn[cs231n-sample_h0-float32-{v}]" for v in VALUES}
    one_step = {n for n in bad if n.startswith("rnn::test_rnn[cs231n-o")}
    assert {n for n, o in outcomes.items() if o == "FAILED"} == bad - xfailed - one_step
    assert {n for n, o in outcomes.items() if o == "XFAIL"} == xfailed
    assert len(outcomes) == 120 + 60 - 12  # the one-line's; float32's sequences but one-step*
    assert _failure(output, "test_rnn[cs231n-long-float32-h]") == [
        "h of case long (myrnn.bad as cs231n, float32): ignores-initial-state",
        "  error 0.397 > tolerance 1e-05 (max|actual - expected| / max|expected|)",
        "  first failing time step: 0",
        (
            "  mistake: ignores-initial-state: the initial state (h0, h_prev) is not used: "
            "every sequence starts from zeros"
        ),
    ]
    # the run's diagnosis, once, in the terminal summary
    assert output.count("= reference_rnn: myrnn.bad as cs231n, float32 =") == 1
    assert "inputs drawn from seed 0 (--rnn-seed)" in output
    assert "FAILED: 78 of 120 checks passed" in output


def test_the_plugin_is_off_without_a_target() -> None:
    class Config:
        def getoption(self, name: str) -> None:
            assert name == "rnn_target"

    items: list[pytest.Item] = []
    pytest_plugin.pytest_collection_modifyitems(None, Config(), items)  # type: ignore[arg-type]
    assert items == []


def test_the_worker_finds_a_module_in_the_folder_pytest_runs_in(tmp_path, monkeypatch) -> None:
    # the worker's path, not the checker's own: nothing is added to this process's sys.path
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", ["/elsewhere", "", str(tmp_path)])
    assert search_path() == [str(tmp_path), "/elsewhere"]
    assert sys.path == ["/elsewhere", "", str(tmp_path)]


def test_the_summary_names_the_checks_no_mistake_explains() -> None:
    lines: list[str] = []

    class Terminal:
        def write_sep(self, sep: str, title: str) -> None:
            lines.append(f"{sep} {title}")

        def write_line(self, line: str) -> None:
            lines.append(line)

    check = Check("batch/h", False, 0.5, 1e-12)
    report = Report("cs231n", "mine", "float64", [check], [], [], ["batch/h"], forward_only=True)
    config = SimpleNamespace(stash={pytest_plugin._REPORTS: [report]})
    pytest_plugin.pytest_terminal_summary(Terminal(), config)  # type: ignore[arg-type]
    assert lines == [
        "= reference_rnn: mine as cs231n, float64",
        "failed checks no catalogued mistake explains: batch/h",
        "FAILED (forward only): 0 of 1 checks passed",
    ]


def test_the_plugin_s_choices_are_the_checker_s() -> None:
    assert pytest_plugin.APIS == APIS
    assert pytest_plugin.DTYPES == DTYPES
