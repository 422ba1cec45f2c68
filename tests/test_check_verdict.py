"""The verdict needs computation (issue 26): hostile code written to a file, checked for real.

Each test writes the code under test into a file, runs the checker on it (``python -m
reference_rnn check`` in a subprocess, or ``testing.check`` with its default isolation) and
asserts the exact outcome: the judged code cannot use ``reference_rnn``; the battery's inputs are
drawn per run; a backward the exercise asks for is required; a call that changes its arguments
is a named mistake.
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from reference_rnn import testing
from reference_rnn.checker import battery
from reference_rnn.checker.printing import check_title

pytest_plugins = ["pytester"]

ROOT = Path(__file__).parents[1]
EXAMPLES = ROOT / "examples"
CORRECT = (EXAMPLES / "cs231n_rnn_layers.py").read_text()


def run(target: object, *options: str, api: str = "cs231n", cwd: Path = ROOT, interpreter=()):
    """``python [interpreter options] -m reference_rnn check TARGET --api API --json [options]``:
    the exit status and the one JSON document on stdout."""
    command = [sys.executable, *interpreter, "-m", "reference_rnn", "check", str(target)]
    result = subprocess.run(
        [*command, "--api", api, "--json", *options],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
    )
    return result.returncode, json.loads(result.stdout)  # exactly one document, or this fails


def text(target: object, *options: str, api: str = "cs231n") -> tuple[int, list[str]]:
    """The same, as the text report's lines."""
    command = [sys.executable, "-m", "reference_rnn", "check", str(target), "--api", api]
    result = subprocess.run(
        [*command, *options], capture_output=True, text=True, check=False, cwd=ROOT
    )
    return result.returncode, result.stdout.splitlines()


def write(folder: Path, source: str, name: str = "submission.py") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(source))
    return path


def failures(document: dict) -> dict[str, list[str]]:
    """Each reason a check failed, with the checks that failed for it."""
    found: dict[str, list[str]] = {}
    for item in document["checks"]:
        if not item["passed"]:
            found.setdefault(item["detail"], []).append(item["name"])
    return found


def mistakes(document: dict) -> list[str]:
    return [diagnosis["mistake"] for diagnosis in document["diagnoses"]]


def checks_of(prefix: str, values=("h", "dx", "dh0", "dWx", "dWh", "db")) -> list[str]:
    h = "next_h" if prefix == "step:" else "h"
    dh0 = "dprev_h" if prefix == "step:" else "dh0"
    names = [{"h": h, "dh0": dh0}.get(v, v) for v in values]
    step = "_step" if prefix == "step:" else ""
    return [
        check_title(f"rnn{step}_{'forward' if v in ('h', 'next_h') else 'backward'}", v, case.name)
        for case in battery.battery()
        for v in names
    ]


# -- the judged code cannot use reference_rnn ------------------------------------------------------

LOAD_REFUSED = "loading {path} tried to import {name}, which the checked code may not use"


@pytest.mark.parametrize(
    ("statement", "name"),
    [
        ("from reference_rnn import rnn_forward, rnn_backward", "reference_rnn"),
        ("import reference_rnn.core.elman as elman", "reference_rnn.core.elman"),
        (
            "import importlib; importlib.import_module('reference_rnn.core.functional')",
            "reference_rnn",  # importlib's own path: the finder, asked for the package first
        ),
        ("__import__('reference_rnn')", "reference_rnn"),
        # caught, and the module's own code goes on: the try is the mistake
        ("try:\n    import reference_rnn\nexcept ImportError:\n    pass", "reference_rnn"),
        # found as a question (allowed), then loaded by hand: its names import the package
        (
            (
                "import importlib.util\nspec = importlib.util.find_spec('reference_rnn')\n"
                "package = importlib.util.module_from_spec(spec)\nspec.loader.exec_module(package)\n"
                "package.rnn_forward"
            ),
            "reference_rnn",
        ),
        # the finder taken out of the import system first: the audit hook refuses it too
        (
            (
                "import sys\nsys.meta_path[:] = [f for f in sys.meta_path if 'Refusal' not in "
                "type(f).__name__]\nimport reference_rnn"
            ),
            "reference_rnn",
        ),
    ],
)
def test_a_module_that_imports_the_reference_fails_its_load_check_named(tmp_path, statement, name):
    path = write(tmp_path, CORRECT + "\n" + statement + "\n")
    code, document = run(path)
    assert (code, document["passed"]) == (1, False)
    detail = LOAD_REFUSED.format(path=path, name=name)
    assert [(c["name"], c["detail"]) for c in document["checks"]] == [("load: TARGET", detail)]
    assert mistakes(document) == ["imports-the-reference"]
    assert document["diagnoses"][0]["evidence"]["check"] == "load: TARGET"


INSIDE = """
import importlib

_correct_forward, _correct_backward = rnn_forward, rnn_backward


def rnn_forward(x, h0, Wx, Wh, b):
    {forward}
    return _correct_forward(x, h0, Wx, Wh, b)


def rnn_backward(dh, cache):
    return _correct_backward(dh, cache)
"""


@pytest.mark.parametrize(
    "forward",
    [
        "return importlib.import_module('reference_rnn').rnn_forward(x, h0, Wx, Wh, b)",
        "return __import__('reference_rnn.core.functional').rnn_forward(x, h0, Wx, Wh, b)",
        # only when it sees it is being checked, and it falls back on its own code
        (
            "import inspect\n"
            "    if any('reference_rnn' in f.filename for f in inspect.stack()):\n"
            "        try:\n"
            "            from reference_rnn import rnn_forward as cheat\n"
            "            return cheat(x, h0, Wx, Wh, b)\n"
            "        except ImportError:\n"
            "            pass"
        ),
    ],
    ids=["import_module", "__import__", "when-checked"],
)
def test_a_call_that_imports_the_reference_fails_its_checks_named(tmp_path, forward):
    path = write(tmp_path, CORRECT + INSIDE.format(forward=forward))
    report = testing.check(str(path), api="cs231n", seed=0)
    assert not report.passed
    assert [d.mistake for d in report.diagnoses] == ["imports-the-reference"]
    failed = [c for c in report.checks if not c.passed]
    (h,) = [c for c in failed if c.name == "rnn_forward: h of case sample"]
    if "except ImportError" in forward:  # its own code went on: its states fail, named
        assert [c.name for c in failed] == [
            n for n in checks_of("") if n.startswith("rnn_forward: h ")
        ]
        assert h.detail == "rnn_forward tried to import reference_rnn"
    else:  # the step functions are right; every check of rnn_forward fails
        assert [c.name for c in failed] == checks_of("")
        name = "reference_rnn" if "import_module" in forward else "reference_rnn.core.functional"
        assert h.detail.startswith(
            f"rnn_forward raised ModuleNotFoundError: the checked code may not import "
            f"{name}: the checker refuses its reference to it (at submission.py:"
        )
    assert report.format().endswith("mistakes: imports-the-reference")


SCAN = """
import gc
import sys
import types

loaded = sorted(
    m.__name__ for m in gc.get_objects()
    if isinstance(m, types.ModuleType) and m.__name__.startswith("reference_rnn")
)
math = ("reference_rnn.core.elman", "reference_rnn.core.functional", "reference_rnn.core.readout")
print("the worker's own:", "reference_rnn.checker.worker" in loaded)
print("the math:", [m for m in loaded if m.startswith((*math, "reference_rnn.layers"))])
print("in sys.modules:", [n for n in sys.modules if n.startswith("reference_rnn")])
"""


def test_the_worker_has_none_of_the_reference_s_math_loaded(tmp_path):
    path = write(tmp_path, CORRECT + SCAN)
    code, document = run(path, "--seed", "0")
    assert (code, document["passed"]) == (0, True)
    assert document["output"] == [
        "the worker's own: True",  # the scan sees the worker's own modules
        "the math: []",
        "in sys.modules: []",  # taken out, where the code could find them
    ]


def test_the_worker_s_own_imports_load_no_math():
    boot = (
        "import sys; from reference_rnn.checker.worker import main; "
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('reference_rnn'))))"
    )
    result = subprocess.run(
        [sys.executable, "-P", "-c", boot], capture_output=True, text=True, check=True, cwd=ROOT
    )
    modules = result.stdout.split()
    assert "reference_rnn.checker.worker" in modules
    assert [
        m for m in modules if m.startswith(("reference_rnn.layers", "reference_rnn.core.e"))
    ] == []
    assert "reference_rnn.core.functional" not in modules


def test_importing_the_package_loads_its_names_when_used():
    code = (
        "import sys, reference_rnn; print('reference_rnn.core.elman' in sys.modules); "
        "reference_rnn.rnn_forward; print('reference_rnn.core.elman' in sys.modules); "
        "print(sorted(set(reference_rnn.__all__) - set(dir(reference_rnn))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split("\n")[:3] == ["False", "True", "[]"]
    import reference_rnn

    with pytest.raises(AttributeError, match="module 'reference_rnn' has no attribute 'nothing'"):
        reference_rnn.nothing  # noqa: B018


FAKE_PACKAGE = """
import os

print("PASSED: 120 of 120 checks passed")
os._exit(0)
"""


def test_a_reference_rnn_py_beside_the_target_is_never_the_package(tmp_path):
    write(tmp_path, FAKE_PACKAGE, "reference_rnn.py")
    wrong = CORRECT.replace("prev_h @ Wh", "0 * prev_h @ Wh")  # no recurrence at one step
    path = write(tmp_path, wrong)
    for cwd, interpreter in ((ROOT, ()), (tmp_path, ("-P",))):  # -P: the grading docs' form
        code, document = run(
            path.name if cwd == tmp_path else path, cwd=cwd, interpreter=interpreter
        )
        assert (code, document["passed"]) == (1, False)
        # at one step also ignoring h0; the sequence functions, calling it, tell them apart
        assert mistakes(document) == ["no-recurrence"]
        assert document["output"] == []  # the fake never ran
    # and a target that imports it gets the refusal, not the fake
    path = write(tmp_path, CORRECT + "\nimport reference_rnn\n")
    code, document = run(path)
    assert (code, mistakes(document), document["output"]) == (1, ["imports-the-reference"], [])


def test_a_submission_named_numpy_py_is_a_failed_load_check_not_a_traceback(tmp_path):
    path = write(tmp_path, "raise RuntimeError('a student file, not numpy')\n", "numpy.py")
    for cwd, target, interpreter in ((ROOT, path, ()), (tmp_path, "numpy.py", ("-P",))):
        code, document = run(target, cwd=cwd, interpreter=interpreter)
        assert (code, document["passed"]) == (1, False)
        [check] = document["checks"]
        assert check["name"] == "load: TARGET"
        assert check["detail"].startswith(
            f"loading {target} raised RuntimeError: a student file, not numpy (at numpy.py:1:"
        )


# -- hidden inputs: the battery is drawn per run ---------------------------------------------------


def test_the_seed_is_fresh_each_run_said_in_the_report_and_reproduces_a_run(tmp_path):
    code, first = run(EXAMPLES / "cs231n_rnn_layers.py")
    code2, second = run(EXAMPLES / "cs231n_rnn_layers.py")
    assert (code, code2) == (0, 0)
    assert first["seed"] != second["seed"]  # 2**32 seeds: equal once in four billion runs
    assert 0 <= first["seed"] < 2**32
    seed = str(first["seed"])
    _, again = run(EXAMPLES / "cs231n_rnn_layers.py", "--seed", seed)
    assert again["seed"] == first["seed"]
    assert [c["max_error"] for c in again["checks"]] == [c["max_error"] for c in first["checks"]]
    status, lines = text(EXAMPLES / "cs231n_rnn_layers.py", "--seed", seed)
    assert status == 0
    assert (
        lines[1] == f"Inputs drawn from seed {seed}: the same seed (--seed {seed}) draws them again"
    )


@pytest.mark.parametrize("seed", ["-1", "4294967296", "1e3", "x", ""])
def test_a_seed_out_of_range_is_a_usage_error(seed):
    result = subprocess.run(
        [sys.executable, "-m", "reference_rnn", "check", "x.py", "--api", "cs231n", "--seed", seed],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert (
        f"argument --seed: must be an integer from 0 to 4294967295, got {seed!r}" in result.stderr
    )


def test_seed_in_python_is_checked_and_not_with_cases():
    with pytest.raises(ValueError, match="seed must be an integer from 0 to 4294967295, got -1"):
        testing.check("x.py", api="cs231n", seed=-1)
    with pytest.raises(ValueError, match="give cases or a seed, not both"):
        testing.check("x.py", api="cs231n", seed=1, cases=testing.cases())


def test_the_sample_is_fixed_and_every_other_case_is_drawn_from_the_seed():
    one, other = battery.battery(seed=1, stateful=True), battery.battery(seed=2, stateful=True)
    for a, b in zip(one, other, strict=True):
        same = all((x == y).all() for x, y in zip(a.inputs(), b.inputs(), strict=True))
        assert same is (a.name == "sample"), a.name
    softmax = [battery.with_readout(c, softmax=True).readout for c in (one[1], other[1])]
    assert not (softmax[0].Wy == softmax[1].Wy).all()  # the output layer too


REPLAY = """
import hashlib
import pickle

import numpy as np

with open({table!r}, "rb") as file:
    TABLE = pickle.load(file)


def key(x, h):
    return {key}


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    return np.array(TABLE["step", key(x, prev_h)]["h"][:, 0]), ("step", key(x, prev_h))


def rnn_step_backward(dnext_h, cache):
    e = TABLE[cache]
    return e["dx"][:, 0], e["dh0"], e["dWx"], e["dWh"], e["db"]


def rnn_forward(x, h0, Wx, Wh, b):
    return np.array(TABLE["seq", key(x, h0)]["h"]), ("seq", key(x, h0))


def rnn_backward(dh, cache):
    e = TABLE[cache]
    return e["dx"], e["dh0"], e["dWx"], e["dWh"], e["db"]
"""


@pytest.mark.parametrize(
    ("key", "by"),
    [
        ("hashlib.sha256(x.tobytes() + h.tobytes()).hexdigest()", "bytes"),
        ("(x.shape, bool(h.any()))", "shape"),
    ],
)
def test_a_table_of_answers_recorded_for_one_run_fails_a_fresh_run(tmp_path, key, by):
    seed = 12345
    table = {}
    for case in battery.battery("float64", seed=seed):
        for kind, given in (("seq", case), ("step", case.first_step())):
            x = given.x[:, 0] if kind == "step" else given.x
            found = eval(key, {"hashlib": __import__("hashlib")}, {"x": x, "h": given.h0})
            table.setdefault((kind, found), given.expected)
    (tmp_path / "table.pkl").write_bytes(pickle.dumps(table))
    path = write(tmp_path, REPLAY.format(table=str(tmp_path / "table.pkl"), key=key))
    sample = [n for n in checks_of("step:") + checks_of("") if n.endswith(" of case sample")]
    if by == "bytes":  # the table is right for its own run
        assert run(path, "--seed", str(seed))[0] == 0
    code, document = run(path)  # a fresh seed
    assert (code, document["passed"]) == (1, False)
    passed = [c["name"] for c in document["checks"] if c["passed"]]
    if by == "bytes":  # no entry for the fresh inputs: only the fixed sample passes
        assert passed == sample
    else:  # the recorded run's answers for the fresh inputs: every other case's states fail
        states = [
            n for n in checks_of("step:") + checks_of("") if ": h of" in n or ": next_h of" in n
        ]
        assert [n for n in states if n in passed] == [n for n in states if n in sample]


# -- a backward where the exercise asks for one ---------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "missing", "checks"),
    [
        ("def rnn_backward(", "def rnn_backwards(", "rnn_backward", 60 + 10),
        ("rnn_step_backward", "rnn_step_backwards", "rnn_step_backward", 10 + 60),
    ],
)
def test_a_misnamed_cs231n_backward_fails_unless_forward_only(tmp_path, old, new, missing, checks):
    path = write(tmp_path, CORRECT.replace(old, new))
    code, lines = text(path)
    assert code == 1
    assert f"  {missing}: exists: {path} has no {missing}" in lines
    assert (
        f"no {missing}: the cs231n exercise asks for a backward "
        f"(--forward-only checks {missing.replace('backward', 'forward')} alone)"
    ) in lines
    assert lines[-1] == f"FAILED: {checks} of {checks + 1} checks passed; mistakes: none"
    code, lines = text(path, "--forward-only")
    assert code == 0
    assert lines[-1] == f"PASSED (forward only): {checks} of {checks} checks passed; mistakes: none"
    code, document = run(path, "--forward-only")
    assert (code, document["forward_only"]) == (0, True)


def test_torch_cs231n_requires_its_backward_too(tmp_path):
    pytest.importorskip("torch")
    source = (
        (EXAMPLES / "eecs498_rnn_torch.py").read_text().replace("def rnn_backward(", "def rnn_b(")
    )
    path = write(tmp_path, source)
    code, document = run(path, "--tensors", "torch")
    assert (code, failures(document)) == (
        1,
        {f"{path} has no rnn_backward": ["rnn_backward: exists"]},
    )
    assert run(path, "--tensors", "torch", "--forward-only")[0] == 0


@pytest.mark.parametrize(
    ("name", "api", "checks"), [("TimeRNN", "dlfs2", 11), ("RNN", "dlfs2-cell", 10)]
)
def test_a_dlfs2_layer_without_backward_fails_unless_forward_only(tmp_path, name, api, checks):
    source = (EXAMPLES / "dlfs2_time_rnn.py").read_text()
    path = write(tmp_path, source + f"\n\ndel {name}.backward\n")
    code, document = run(f"{path}:{name}", api=api)
    assert (code, document["forward_only"]) == (1, False)
    assert failures(document) == {
        f"{path}:{name} has no {name}.backward": [f"{name}.backward: exists"]
    }
    report = testing.check(f"{path}:{name}", api=api, forward_only=True)
    assert report.passed
    assert report.verdict == f"PASSED (forward only): {checks} of {checks} checks passed"


@pytest.mark.parametrize(
    ("example", "api", "strip", "checks"),
    [
        ("corrected_simple_rnn.py:SimpleRNN", "sprint", "\ndel SimpleRNN.backward\n", 10),
        (
            "coursera_rnn_step_by_step.py",
            "coursera",
            "\ndel rnn_backward, rnn_cell_backward\n",
            40,
        ),
    ],
)
def test_where_backward_is_optional_the_verdict_line_says_forward_only(
    tmp_path, example, api, strip, checks
):
    file, _, name = example.partition(":")
    path = write(tmp_path, (EXAMPLES / file).read_text() + strip)
    code, lines = text(f"{path}:{name}" if name else path, api=api)
    assert code == 0
    assert lines[-1] == f"PASSED (forward only): {checks} of {checks} checks passed; mistakes: none"


def test_the_plugin_takes_forward_only_and_a_seed(pytester: pytest.Pytester):
    pytester.makepyfile(mine=CORRECT.replace("def rnn_backward(", "def rnn_backwards("))
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--rnn-target", "mine")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*FAILED mine.py::test_rnn[[]rnn_backward-float64-exists]*"])
    result = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "--rnn-target", "mine", "--rnn-forward-only", "--rnn-seed", "7"
    )
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        ["inputs drawn from seed 7 (--rnn-seed)", "PASSED (forward only): 70 of 70 checks passed"]
    )


# -- a call that changes its arguments ---------------------------------------------------------


SCRIBBLES = """
_correct_forward, _correct_backward = rnn_forward, rnn_backward


def rnn_forward(x, h0, Wx, Wh, b):
    h, cache = _correct_forward(x.copy(), h0, Wx.copy(), Wh, b)
    {forward}
    return h, cache


def rnn_backward(dh, cache):
    grads = _correct_backward(dh.copy(), cache)
    {backward}
    return grads
"""


def test_a_call_that_overwrites_its_arguments_is_named(tmp_path):
    scribbles = SCRIBBLES.format(forward="x[...] = 0\n    Wx += 1", backward="dh[...] = 0")
    path = write(tmp_path, CORRECT + scribbles)
    code, document = run(path, "--seed", "0")
    assert (code, document["passed"]) == (1, False)
    assert mistakes(document) == ["modifies-its-arguments"]
    forward = [n for n in checks_of("") if n.startswith("rnn_forward: h ")]
    assert failures(document) == {
        "rnn_forward changed its arguments x, Wx in place": forward,
        "rnn_backward changed its argument dh in place": sorted(
            set(checks_of("")) - set(forward), key=checks_of("").index
        ),
    }
    evidence = document["diagnoses"][0]["evidence"]
    assert evidence["check"] == "rnn_forward: h of case sample"
    assert evidence["detail"] == (
        "rnn_forward changed its arguments x, Wx in place; "
        "the arrays it was given were not the same after the call"
    )


def test_a_layer_that_overwrites_its_input_is_named(tmp_path):
    source = (EXAMPLES / "dlfs2_time_rnn.py").read_text()
    path = write(
        tmp_path,
        source
        + textwrap.dedent(
            """
            _forward = TimeRNN.forward


            def forward(self, xs):
                hs = _forward(self, xs.copy())
                xs *= 2
                return hs


            TimeRNN.forward = forward
            """
        ),
    )
    report = testing.check(f"{path}:TimeRNN", api="dlfs2", seed=0)
    assert [d.mistake for d in report.diagnoses] == ["modifies-its-arguments"]
    assert {c.detail for c in report.checks if not c.passed} == {
        "forward changed its argument x in place"
    }
