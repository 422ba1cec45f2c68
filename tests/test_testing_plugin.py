"""A second project's pytest suite checks its RNNs: the plugin, and the one-line parametrization.

The project (written here, in a temporary folder) has a correct RNN and a buggy one that ignores
the initial state, in a package whose ``__init__.py`` marks each process that imports it; it runs
under ``-W error``, as a project with ``filterwarnings = ["error"]`` does. The correct one passes
every item; the buggy one fails exactly the items whose case starts from a non-zero state, each
failure naming the user's function, the mistake and the first mismatching element. Pytest's
process never imports the package: each run checks in worker processes, as the command does. Few
runs, so that the suite stays fast.
"""

from __future__ import annotations

import ast
import os
import re
import sys
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from reference_rnn import testing
from reference_rnn.checker.apis import APIS
from reference_rnn.checker.battery import DTYPES
from reference_rnn.checker.runner import Check, Report
from reference_rnn.checker.target import TargetNotFoundError, search_path, source_file
from reference_rnn.testing import items as testing_items
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
#: Marks the process that imports the package: pytest's own must never (the worker does)
MARKING = """\
import os
from pathlib import Path

try:
    (Path(__file__).parent.parent / f"imported-{os.getpid()}").touch()
except OSError:  # where the worker user may not write
    pass
"""
GRADIENTS = ("dx", "dh0", "dWx", "dWh", "db")
STEP = {"rnn_step_forward": ("next_h",), "rnn_step_backward": ("dx", "dprev_h", "dWx", "dWh", "db")}
SEQUENCE = {"rnn_forward": ("h",), "rnn_backward": GRADIENTS}
RUN = ("-W", "error", "-p", "no:cacheprovider", "-v")


def _ids(
    dtype: str, functions: dict[str, tuple[str, ...]], cases: set[str] | None = None
) -> set[str]:
    """The ids of ``functions``' values in ``cases`` (default: the whole battery), as the
    battery spells each case."""
    names = cases if cases is not None else {case.name for case in testing.cases(dtype)}
    return {
        f"{function}-{case}-{dtype}-{value}"
        for function, values in functions.items()
        for case in names
        for value in values
    }


def _h0_cases(dtype: str) -> set[str]:
    """The battery's cases that start from a non-zero state: the ones the bug changes."""
    return {case.name for case in testing.cases(dtype) if not case.zero_h0}


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    files = {"myrnn/__init__.py": MARKING, "myrnn/good.py": GOOD, "myrnn/bad.py": BAD}
    pytester.makepyfile(**files)
    return pytester


def _never_imported_here(project: pytest.Pytester) -> None:
    assert not (project.path / f"imported-{os.getpid()}").exists()


def _outcomes(output: str) -> dict[str, str]:
    return dict(re.findall(r"(\S+\[\S+\]) (PASSED|FAILED|XFAIL)", output))


def _failure(output: str, test: str) -> list[str]:
    """The lines of ``test``'s failure in pytest's report."""
    section = re.search(rf"_ {re.escape(test)} _+\n(.*?)\n(?:_|=)", output, re.DOTALL)
    assert section is not None, output
    return section.group(1).splitlines()


def _computed(source: str, case: testing.Case) -> dict[str, np.ndarray]:
    """What the project's code (``GOOD`` or ``BAD``, run here) returns on ``case``."""
    code: dict[str, object] = {}
    exec(source, code)  # noqa: S102  (the test's own code, not the judged: that runs in a worker)
    h, cache = code["rnn_forward"](case.x, case.h0, case.Wx, case.Wh, case.b)  # type: ignore[operator]
    grads = code["rnn_backward"](case.dh, cache)  # type: ignore[operator]
    return {"h": h, **dict(zip(GRADIENTS, grads, strict=True))}


def _assert_first_mismatch(lines: list[str], case: testing.Case, value: str) -> None:
    """``lines`` (a failure's last two) name the first element where BAD's ``value`` differs
    from GOOD's beyond the tolerance, with both values, as numpy.testing does."""
    bad, good = _computed(BAD, case)[value], _computed(GOOD, case)[value]
    tolerance = testing.TOLERANCE[case.dtype]
    beyond = np.abs(bad - good) > tolerance * np.abs(good).max()
    first = tuple(int(i) for i in np.argwhere(beyond)[0])
    count = int(beyond.sum())
    assert lines[0] == (
        f"  Mismatched elements: {count} / {bad.size} ({100 * count / bad.size:.3g}%)"
    )
    shown = re.fullmatch(r"  First mismatch at index (.*): actual (\S+), expected (\S+)", lines[1])
    assert shown is not None, lines
    assert ast.literal_eval(shown.group(1)) == first
    assert float(shown.group(2)) == pytest.approx(float(bad[first]), rel=tolerance)
    assert float(shown.group(3)) == pytest.approx(float(good[first]), rel=tolerance, abs=1e-15)


def test_the_plugin_passes_the_good_rnn_and_the_one_line_fails_the_bad_one_where_h0_matters(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(test_bad=ONE_LINE.format(name="bad"))
    result = project.runpytest_inprocess(*RUN, "--rnn-target", "myrnn.good")
    outcomes = _outcomes(result.stdout.str())
    good = {name: o for name, o in outcomes.items() if name.startswith("myrnn/good.py::")}
    assert set(good) == {f"myrnn/good.py::test_rnn[{i}]" for i in _ids("float64", STEP | SEQUENCE)}
    assert set(good.values()) == {"PASSED"}
    failed = {name for name, o in outcomes.items() if o == "FAILED"}
    assert failed == {
        f"test_bad.py::test_bad[{i}]" for i in _ids("float64", SEQUENCE, _h0_cases("float64"))
    }
    assert len(outcomes) == 240
    result.stdout.fnmatch_lines(["*collected 240 items"])
    lines = _failure(result.stdout.str(), "test_bad[rnn_backward-batch-h0-float64-dWh]")
    assert lines[:-4] == [
        "",
        "rnn_check = <CheckedValue rnn_backward-batch-h0-float64-dWh: failed>",
        "",
        '    @pytest.mark.parametrize(*testing.parametrize("myrnn.bad", api="cs231n", seed=0))',
        "    def test_bad(rnn_check):",
        ">       rnn_check.assert_passed()",  # __tracebackhide__: the test's line, not ours
        (
            "E       AssertionError: rnn_backward: dWh of case batch-h0 "
            "(myrnn.bad as cs231n, float64): ignores-initial-state"
        ),
        "E         error 0.585 > tolerance 1e-12 (max|actual - expected| / max|expected|)",
        (
            "E         mistake: ignores-initial-state: the initial state (h0, h_prev) is not used: "
            "every sequence starts from zeros"
        ),
    ]
    assert lines[-2:] == ["", "test_bad.py:7: AssertionError"]
    case = {case.name: case for case in testing.cases("float64", seed=0)}["batch-h0"]
    _assert_first_mismatch([line.removeprefix("E       ") for line in lines[-4:-2]], case, "dWh")
    _never_imported_here(project)


def test_the_plugin_fails_the_bad_rnn_where_h0_matters_selects_and_xfails_by_id(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(test_good=ONE_LINE.format(name="good"))
    project.makefile(".txt", xfails="# known\nrnn_*-sample-h0-float32-*\n\n")
    result = project.runpytest_inprocess(
        *(*RUN, "--rnn-target", "myrnn.bad", "--rnn-seed", "0"),
        *("--rnn-dtype", "float32", "--rnn-dtype", "float32"),  # once is enough
        *("--rnn-include", "rnn_forward-*", "--rnn-include", "rnn_backward-*"),
        *("--rnn-exclude", "*-one-step-*", "--rnn-xfail-file", "xfails.txt"),
    )
    output = result.stdout.str()
    outcomes = _outcomes(output)
    good = {name: o for name, o in outcomes.items() if name.startswith("test_good.py::")}
    assert len(good) == 120
    assert set(good.values()) == {"PASSED"}
    h0_cases = _h0_cases("float32") - {"one-step"}
    bad = {f"myrnn/bad.py::test_rnn[{i}]" for i in _ids("float32", SEQUENCE, h0_cases)}
    xfailed = {f"myrnn/bad.py::test_rnn[{i}]" for i in _ids("float32", SEQUENCE, {"sample-h0"})}
    assert {n for n, o in outcomes.items() if o == "FAILED"} == bad - xfailed
    assert {n for n, o in outcomes.items() if o == "XFAIL"} == xfailed
    sequences = {case.name for case in testing.cases("float32")} - {"one-step", "one-step-batch"}
    assert len(outcomes) == 120 + len(_ids("float32", SEQUENCE, sequences))
    result.stdout.fnmatch_lines([f"*collected {len(outcomes)} items"])
    lines = _failure(output, "test_rnn[rnn_forward-long-float32-h]")
    assert lines[:-2] == [
        "rnn_forward: h of case long (myrnn.bad as cs231n, float32): ignores-initial-state",
        "  error 0.397 > tolerance 1e-05 (max|actual - expected| / max|expected|)",
        "  first failing time step: 0",
        (
            "  mistake: ignores-initial-state: the initial state (h0, h_prev) is not used: "
            "every sequence starts from zeros"
        ),
    ]
    case = {case.name: case for case in testing.cases("float32", seed=0)}["long"]
    _assert_first_mismatch(lines[-2:], case, "h")
    # the run's diagnosis, once, in the terminal summary
    assert output.count("= reference_rnn: myrnn.bad as cs231n, float32 =") == 1
    assert "inputs drawn from seed 0 (--rnn-seed)" in output
    assert "FAILED: 78 of 120 checks passed" in output
    _never_imported_here(project)


def test_the_items_are_collected_as_any_test_and_selected_by_pytest_s_own_options(
    project: pytest.Pytester,
) -> None:
    # with its cache: --lf reads it
    every = {f"myrnn/bad.py::test_rnn[{i}]" for i in _ids("float64", STEP | SEQUENCE)}
    h0 = {f"myrnn/bad.py::test_rnn[{i}]" for i in _ids("float64", SEQUENCE, _h0_cases("float64"))}
    target = ("--rnn-target", "myrnn.bad")
    listed = project.runpytest_inprocess(*target, "--co", "-q")
    assert set(listed.outlines[:-2]) == every
    assert listed.outlines[-1].startswith("120 tests collected in")
    first = project.runpytest_inprocess(*target, "-rf")
    first.stdout.fnmatch_lines(["collected 120 items", "*= 42 failed, 78 passed in *"])
    summary = set(re.findall(r"^FAILED (\S+)", first.stdout.str(), re.MULTILINE))
    assert summary == h0
    one = "myrnn/bad.py::test_rnn[rnn_backward-sample-h0-float64-dWh]"
    assert one in summary
    # as the summary printed it; the file is a doctest module too, and still not imported
    again = project.runpytest_inprocess(*target, one, "-v", "--doctest-modules")
    assert _outcomes(again.stdout.str()) == {one: "FAILED"}
    again.stdout.fnmatch_lines(["*collected 1 item"])
    last = project.runpytest_inprocess(*target, "--lf", "-v")
    last.stdout.fnmatch_lines(["run-last-failure: rerun previous 42 failures"])
    assert _outcomes(last.stdout.str()) == dict.fromkeys(h0, "FAILED")
    chosen = project.runpytest_inprocess(*target, "-v", "-k", "rnn_step_backward and sample-h0")
    assert set(_outcomes(chosen.stdout.str())) == {
        f"myrnn/bad.py::test_rnn[{i}]"
        for i in _ids("float64", {"rnn_step_backward": STEP["rnn_step_backward"]}, {"sample-h0"})
    }
    rest = project.runpytest_inprocess(*target, "-v", "--deselect", one)
    assert set(_outcomes(rest.stdout.str())) == every - {one}
    rest.stdout.fnmatch_lines(["*collected 120 items / 1 deselected / 119 selected"])
    _never_imported_here(project)


def test_the_target_is_collected_wherever_it_is_and_the_summary_says_where_it_was_not(
    project: pytest.Pytester,
) -> None:
    project.makeini("[pytest]\ntestpaths = tests\n")
    project.makepyfile(**{"tests/__init__.py": "", "tests/test_other.py": "def test_a(): pass"})
    (project.path / "weird[1].py").write_text(GOOD)
    (project.path / "build").mkdir()
    (project.path / "build" / "rnn.py").write_text(GOOD)
    # outside testpaths, beside a folder given, a test given, and the folder that holds it
    for paths in ([], ["tests"], ["tests/test_other.py::test_a"], ["."]):
        result = project.runpytest_inprocess(
            *("-p", "no:cacheprovider", "--co", "-q"), *paths, "--rnn-target", "myrnn.good"
        )
        assert result.outlines[-1].startswith("121 tests collected in"), result.outlines
        assert "tests/test_other.py::test_a" in result.outlines
    # where pytest's search does not go: a folder it skips, under a folder given; a path with
    # a [, which pytest reads as an id's parameters and so cannot be given
    for target, paths in (("build/rnn.py", ["."]), ("weird[1].py", [])):
        result = project.runpytest_inprocess(
            "-p", "no:cacheprovider", "--rnn-target", target, *paths
        )
        result.stdout.fnmatch_lines(
            [
                "collected 1 item",
                (
                    f"reference_rnn: {target.replace('[', '[[]')} holds the checks, but pytest's "
                    "search did not reach it: name it, or a folder that holds it, on the command "
                    "line"
                ),
            ]
        )
    found = project.runpytest_inprocess(
        "-p", "no:cacheprovider", "--rnn-target", "weird[1].py", "."
    )
    found.stdout.fnmatch_lines(["collected 121 items", "*= 121 passed in *"])
    _never_imported_here(project)


@pytest.mark.parametrize(
    ("options", "error"),
    [
        (
            ("--rnn-target", "rnn_layer"),
            "--rnn-target: no module 'rnn_layer' (and no file: a file's name ends in .py)",
        ),
        (("--rnn-target", "myrnn/goood.py"), "--rnn-target: no file myrnn/goood.py"),
        (
            ("--rnn-api", "cs231"),
            (
                "--rnn-api: must be one of cs231n, cs231n-torch, coursera, d2l, dlfs2, "
                "dlfs2-cell, sprint, got 'cs231' (did you mean cs231n?)"
            ),
        ),
        (
            ("--rnn-dtype", "float64", "--rnn-dtype", "float16"),
            "--rnn-dtype: must be one of float64, float32, got 'float16' (did you mean float64?)",
        ),
        (("--rnn-tensors", "jax"), "--rnn-tensors: must be one of numpy, torch, got 'jax'"),
        (
            ("--rnn-api", "sprint", "--rnn-tensors", "torch"),
            (
                "--rnn-tensors: tensors='torch' does not apply to api 'sprint': its code takes "
                "NumPy arrays"
            ),
        ),
        (
            ("--rnn-xfail-file", "missing.txt"),
            "--rnn-xfail-file: cannot read missing.txt: No such file or directory",
        ),
        (
            ("--rnn-xfail-file", "latin1.txt"),
            "--rnn-xfail-file: cannot read latin1.txt: not UTF-8 text",
        ),
    ],
)
def test_a_wrong_option_is_one_error_line_exit_4_before_anything_runs(
    project: pytest.Pytester, options: tuple[str, ...], error: str
) -> None:
    (project.path / "latin1.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    result = project.runpytest_inprocess(
        "-p", "no:cacheprovider", *("--rnn-target", "myrnn.bad"), *options
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert [line for line in result.errlines if line] == [f"ERROR: {error}"]
    assert result.outlines == []  # not even the session's header: nothing ran
    assert not list(project.path.glob("imported-*"))  # nor did the worker


def test_a_target_s_name_that_loading_finds_missing_is_a_usage_error_too(
    project: pytest.Pytester,
) -> None:
    result = project.runpytest_inprocess(
        "-p", "no:cacheprovider", "--rnn-target", "myrnn/bad.py:TimeRN", "--rnn-api", "dlfs2"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert [line for line in result.errlines if line] == [
        "ERROR: --rnn-target: myrnn/bad.py has no TimeRN"
    ]
    assert "INTERNALERROR" not in result.stdout.str()


def test_the_plugin_is_off_without_a_target(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_one="def test_one(): pass")
    pytester.makepyfile(**{"pkg/__init__.py": "", "pkg/test_two.py": "def test_two(): pass"})
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    assert "reference_rnn" not in result.stdout.str()


def test_the_target_s_file_is_found_without_running_any_of_its_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the worker's search path starts there
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "pkg" / "__init__.py").write_text("raise SystemExit('ran')\n")
    (tmp_path / "pkg" / "sub" / "__init__.py").write_text("raise SystemExit('ran')\n")
    (tmp_path / "pkg" / "sub" / "layers.py").write_text("raise SystemExit('ran')\n")
    (tmp_path / "spaces" / "inner").mkdir(parents=True)  # namespace packages, no __init__.py
    (tmp_path / "spaces" / "inner" / "mod.py").write_text("")
    (tmp_path / "mine.py").write_text("")
    layers = (tmp_path / "pkg" / "sub" / "layers.py").resolve()
    assert source_file("pkg.sub.layers") == layers
    assert source_file("pkg.sub.layers:TimeRNN") == layers
    assert source_file("pkg.sub") == layers.parent / "__init__.py"
    assert source_file("spaces.inner.mod") == (tmp_path / "spaces" / "inner" / "mod.py").resolve()
    assert source_file("pkg/sub/layers.py:TimeRNN") == layers
    assert source_file("mine.py") == (tmp_path / "mine.py").resolve()
    for missing in ("pkg.nope", "pkg.sub.layers.deeper", "spaces", "sys", "1pkg.mod", "nope"):
        with pytest.raises(TargetNotFoundError, match=rf"^no module {re.escape(repr(missing))}"):
            source_file(missing)
    with pytest.raises(TargetNotFoundError, match=r"^no file pkg/missing\.py$"):
        source_file("pkg/missing.py")

    class Editable:  # an editable install's finder: found on sys.meta_path, after the path
        @staticmethod
        def find_spec(name: str, path: object) -> ModuleSpec | None:  # noqa: ARG004
            found = name == "elsewhere"
            return ModuleSpec(name, None, origin=str(tmp_path / "mine.py")) if found else None

    monkeypatch.setattr(sys, "meta_path", [*sys.meta_path, Editable()])
    assert source_file("elsewhere") == (tmp_path / "mine.py").resolve()


def test_the_worker_finds_a_module_in_the_folder_pytest_runs_in(tmp_path, monkeypatch) -> None:
    # the worker's path, not the checker's own: nothing is added to this process's sys.path
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", ["/elsewhere", "", str(tmp_path)])
    assert search_path() == [str(tmp_path), "/elsewhere"]
    assert sys.path == ["/elsewhere", "", str(tmp_path)]


def test_the_summary_names_the_tests_no_mistake_explains() -> None:
    lines: list[str] = []

    class Terminal:
        def write_sep(self, sep: str, title: str) -> None:
            lines.append(f"{sep} {title}")

        def write_line(self, line: str) -> None:
            lines.append(line)

    checks = [
        Check.of(
            "rnn_forward", "h", "batch", passed=False, error=0.5, tolerance=1e-12, detail=None
        ),
        Check.of(
            "rnn_step_forward",
            "next_h",
            "batch",
            passed=True,
            error=0.0,
            tolerance=1e-12,
            detail=None,
        ),
    ]
    h = checks[0].name
    looks = [f"{h}: h is all zeros"]
    report = Report("cs231n", "mine", "float64", checks, [], [], [h], looks, forward_only=True)
    other = Report("cs231n", "mine", "float32", checks[:1], [], [], [h])
    values = testing_items._values(report, {}) + testing_items._values(other, {})
    stash = {pytest_plugin._VALUES: values, pytest_plugin._COLLECTED: True}
    listing = SimpleNamespace(stash=stash, option=SimpleNamespace(collectonly=True))
    pytest_plugin.pytest_terminal_summary(Terminal(), listing)  # type: ignore[arg-type]
    assert lines == []  # --co: the check ran to list its items, but a verdict is a run's
    config = SimpleNamespace(stash=stash, option=SimpleNamespace(collectonly=False))
    pytest_plugin.pytest_terminal_summary(Terminal(), config)  # type: ignore[arg-type]
    assert lines == [
        "= reference_rnn: mine as cs231n, float64",
        "failed checks no catalogued mistake explains: rnn_forward-batch-float64-h",
        "  rnn_forward: h of case batch: h is all zeros",
        "FAILED (forward only): 1 of 2 checks passed",
        "= reference_rnn: mine as cs231n, float32",
        "failed checks no catalogued mistake explains: rnn_forward-batch-float32-h",
        "FAILED: 0 of 1 checks passed",
    ]


def test_the_plugin_s_choices_are_the_checker_s() -> None:
    assert pytest_plugin.APIS == APIS
    assert pytest_plugin.DTYPES == DTYPES
