#!/usr/bin/env python3
# /// script
# requires-python = ">=3.11"
# dependencies = ["nox>=2025.2.9"]
# ///
"""Sessions: `nox` runs them all; `nox -s tests` the NumPy matrix; `nox -l` lists them.

Every test environment pins torch==2.13.0: it is the CPU build on these machines' disk, and any
other torch makes the installer fetch a CUDA build of several GB (DEVELOPERS.md). Environments are
made with uv where it is installed (`pip install nox uv`), else with virtualenv and pip: uv makes a
NumPy session's environment in seconds, from its cache after the first. uv reads no pip
configuration, so it is given pip's find-links, where the CPU build of torch lies.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nox

nox.needs_version = ">=2025.2.9"
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.error_on_external_run = True
nox.options.sessions = [
    "lint",
    "typecheck",
    "tests",
    "oracles",
    "report",
    "tests_without_torch",
    "portable_c",
    "coverage",
]

PYPROJECT = nox.project.load_toml("pyproject.toml")
PYTHON = "3.11"
NUMPY = ["1.23", "1.24", "1.25", "1.26", "2.0", "2.1", "2.2", "2.3", "2.4"]
TORCH = "torch==2.13.0"
#: Where the whole suite runs: the oldest NumPy, the last 1.x, the first 2.x and the newest. The
#: other minors run the numerical tests only (core, layers, oracles, golden fixtures, verify).
WHOLE_SUITE_NUMPY = ["1.23", "1.26", "2.0", "2.4"]
#: The checker's, the testing package's and the export's tests drive worker processes and files
#: that run the same on every NumPy, and they are most of a session's time: of the whole suite's
#: four, the ends of the matrix run them, a NumPy 1 and a NumPy 2 (what NumPy 2 changed, its
#: scalars' text in a message, the .npy channel, is run on both).
PROCESS_TESTS = ["tests/test_check*.py", "tests/test_testing*.py", "tests/test_export*.py"]
WITH_PROCESS_TESTS = {NUMPY[0], NUMPY[-1]}
#: Of those, the operating-system boundary's and the hostile code's (processes, signals, files,
#: the console script, the escaping of what the code prints): nothing in them depends on NumPy's
#: version (what does, the channel's .npy and the numbers in messages, is in test_check_isolation
#: and test_check_diagnosis, which run at both ends), and they are half of the process tests'
#: time: the newest NumPy alone runs them.
BOUNDARY_TESTS = [
    f"tests/test_{name}.py"
    for name in (
        "check_boundary",
        "check_boundary_units",
        "check_hygiene",
        "check_sealed",
        "check_verdict",
    )
]
#: The process tests that neither import torch nor check code that takes tensors: without torch
#: they run exactly as with it, so the suite without torch leaves them to the sessions above.
TORCH_FREE_PROCESS_TESTS = BOUNDARY_TESTS + [
    f"tests/test_{name}.py"
    for name in (
        "check_cli",
        "check_combined",
        "check_isolation",
        "check_localised",
        "check_user_code",
        "export_writing",
        "testing_strategies",
    )
]
#: The LSTM's and the GRU's layer matrices (every option against torch, exact arithmetic and
#: finite differences: 35 s of a session each), whose NumPy calls are their cores', tested on
#: every minor: the whole suite's four run them.
LAYER_MATRICES = [
    "tests/test_lstm_layer.py",
    "tests/test_lstm_oracles.py",
    "tests/test_lstm_hostile.py",
    "tests/test_gru_layer.py",
    "tests/test_gru_oracles.py",
]
#: Coverage is measured on the newest NumPy alone: nothing in the package depends on NumPy's
#: version (no line differs between 1 and 2: the oldest and the newest each reached 100% alone),
#: and the tracer costs the session it measures about 60% more time (DEVELOPERS.md).
COVERED_NUMPY = NUMPY[-1]
#: pytest-xdist, one worker per core, for the whole suite: it is mostly Python, one core's work at a
#: time. On two cores a NumPy session's tests took 40 s instead of 63 s in the same environment,
#: 44-55 s instead of 55-70 s in CI's fresh ones. The oracle sessions run without it: with two
#: workers the JAX session's tests took 33 s against 28 s (its compiler already uses both cores).
#: worksteal: an idle worker takes tests queued for the other, so the session does not end on one
#: worker running the last file's tests alone (8 s of a NumPy session on CI with the default).
WORKERS = ["--numprocesses", "auto", "--dist", "worksteal"]

#: Each oracle framework's session: the extra that pins it, and the tests that need it. The exact
#: oracle needs only mpmath, which the `test` group holds: every NumPy session runs it.
ORACLE_FRAMEWORKS = {
    "jax": [
        "tests/test_oracle_jax.py",
        "tests/test_lstm_oracle_jax.py",
        "tests/test_gru_jax.py",
        "tests/test_gru_layouts.py",  # its Flax case: flax is in the jax session
    ],
    "keras": [
        "tests/test_oracle_keras.py",
        "tests/test_lstm_oracle_keras.py",
        "tests/test_gru_keras.py",
    ],
    "onnx": ["tests/test_onnx.py", "tests/test_lstm_onnx.py", "tests/test_gru_onnx.py"],
}
#: The files whose tests are parametrized by every oracle (their planted errors, every supported
#: case), and in each framework's session the tests of that framework alone (a `-k` expression):
#: the rest is torch's, exact arithmetic's or no oracle's, which the NumPy sessions run (it was
#: 124 s of each session's tests, with coverage, on two cores loaded to 10).
EVERY_ORACLE = ["tests/test_oracles.py", "tests/test_gru_oracles.py"]
ORACLE_KEYWORDS = {
    "jax": "jax",
    "keras": "keras",
    # onnxruntime's and the reference evaluator's parameters, and the evaluator's own test
    "onnx": "onnx or reference_evaluator",
}
#: What only an oracle session can run: the NumPy sessions hold 100% coverage of the rest.
NEEDS_A_FRAMEWORK = [
    "*/reference_rnn/oracles/jax.py",
    "*/reference_rnn/oracles/keras.py",
    "*/reference_rnn/oracles/onnxruntime.py",
    "*/reference_rnn/oracles/onnx_reference.py",
    "*/reference_rnn/oracles/onnx_graph.py",
    "*/reference_rnn/layers/onnx_export.py",
    # matplotlib: the report session
    "*/reference_rnn/pages.py",
    "*/reference_rnn/verify/html.py",
    "*/reference_rnn/verify/drift.py",
    "*/reference_rnn/checker/html.py",
]


#: Where the test sessions write their coverage data, sticky and writable by every user: run as
#: root, the checker's worker runs the judged code as ``nobody`` (docs/checking.md, Threat model),
#: and a worker measured by coverage saves its data as that user.
COVERAGE_DATA = Path(__file__).resolve().parent / ".coverage-data"


def _coverage_file(name: str) -> dict[str, str]:
    """The environment of a session whose coverage data is ``.coverage-data/.coverage.<name>``."""
    COVERAGE_DATA.mkdir(exist_ok=True)
    COVERAGE_DATA.chmod(0o1777)
    return {"COVERAGE_FILE": str(COVERAGE_DATA / f".coverage.{name}")}


def _discarded(func: Callable[..., None]) -> Callable[..., None]:
    """Delete the session's environment when it ends, passed or failed, unless it is reused (-r).

    Each test environment holds torch (about 1 GB); bare `nox` and CI's docs session make 15 of
    them, which filled a CI machine's disk. nox recreates an environment on every run unless told
    to reuse it, so nothing is lost: the disk holds one environment at a time.
    """

    @functools.wraps(func)
    def run(session: nox.Session, **parameters: Any) -> None:
        try:
            func(session, **parameters)
        finally:
            venv = session.virtualenv
            if not getattr(venv, "reuse_existing", True):
                shutil.rmtree(venv.location, ignore_errors=True)

    return run


def _pip_find_links() -> None:
    """Give uv pip's find-links (the folder with torch's CPU build), unless uv has its own."""
    if "UV_FIND_LINKS" in os.environ:
        return
    links = os.environ.get("PIP_FIND_LINKS")
    if not links:
        asked = subprocess.run(
            [sys.executable, "-m", "pip", "config", "get", "global.find-links"],
            capture_output=True,
            text=True,
            check=False,
        )
        links = asked.stdout.strip() if asked.returncode == 0 else ""
    if links:
        os.environ["UV_FIND_LINKS"] = links


_pip_find_links()


def _pip(session: nox.Session, *args: str) -> None:
    """``session.install(*args)``, byte-compiling nothing.

    pip compiles every file it installs unless told not to: all of torch costs 13 s a session,
    and Python compiles what it imports on first use anyway. uv compiles nothing by default.
    """
    session.install(*([] if session.venv_backend == "uv" else ["--no-compile"]), *args)


def _install(session: nox.Session, numpy: str | None, group: str) -> None:
    """NumPy (one minor release, or the newest), the group's tools and the project, in one run."""
    numpy_spec = f"numpy=={numpy}.*" if numpy else "numpy"
    _pip(session, numpy_spec, *nox.project.dependency_groups(PYPROJECT, group), "-e", ".")


@nox.session(python=PYTHON)
@nox.parametrize("numpy", NUMPY)
@_discarded
def tests(session: nox.Session, numpy: str) -> None:
    """The suite, with live torch checks, on one NumPy minor: whole, or its numerical tests.

    WHOLE_SUITE_NUMPY says which minors run what. Coverage is measured on the newest
    (COVERED_NUMPY), which runs every test; 100% is required of everything but what needs another
    framework: the modules in NEEDS_A_FRAMEWORK and the lines marked `# needs: <framework>`, which
    their own sessions cover (the combined report requires 100% of everything).
    """
    _install(session, numpy, "test")
    ignored = ([] if numpy in WITH_PROCESS_TESTS else PROCESS_TESTS) + (
        [] if numpy in WHOLE_SUITE_NUMPY else LAYER_MATRICES
    )
    ignored += [] if numpy == COVERED_NUMPY else BOUNDARY_TESTS
    ignore = [f"--ignore-glob={pattern}" for pattern in ignored]
    if numpy != COVERED_NUMPY:
        session.run("pytest", *WORKERS, *ignore, *session.posargs)
        return
    data = _coverage_file(f"numpy-{numpy}")
    session.run(
        "pytest",
        *WORKERS,
        "--cov",
        "--cov-report=",
        "--cov-fail-under=0",
        *ignore,
        *session.posargs,
        env=data,
    )
    session.run(
        "coverage",
        "report",
        "--skip-covered",
        f"--omit={','.join(NEEDS_A_FRAMEWORK)}",
        "--fail-under=100",
        env=data | {"NEEDS_A_FRAMEWORK_LINE": "# needs: "},
    )


@nox.session(python=PYTHON)
@nox.parametrize("framework", list(ORACLE_FRAMEWORKS))
@_discarded
def oracles(session: nox.Session, framework: str) -> None:
    """One oracle framework, pinned by its extra, on the newest NumPy that it supports.

    Its own tests, and the planted-error test (tests/test_oracles.py) that must fail every oracle.
    """
    _pip(
        session,
        *nox.project.dependency_groups(PYPROJECT, "test", f"oracle-{framework}-measured"),
        "-e",
        f".[oracle-{framework}]",
    )
    session.run(
        "pytest",
        "--cov",
        "--cov-report=",
        "--cov-fail-under=0",
        *EVERY_ORACLE,
        *ORACLE_FRAMEWORKS[framework],
        "-k",
        f"not ({' or '.join(Path(f).name for f in EVERY_ORACLE)}) or {ORACLE_KEYWORDS[framework]}",
        *session.posargs,
        env=_coverage_file(f"oracle-{framework}"),
    )


@nox.session(python=PYTHON)
@_discarded
def report(session: nox.Session) -> None:
    """The HTML report's tests with matplotlib (the [report] extra), for the combined coverage."""
    _pip(session, *nox.project.dependency_groups(PYPROJECT, "test"), "-e", ".[report]")
    session.run(
        "pytest",
        "--cov",
        "--cov-report=",
        "--cov-fail-under=0",
        "tests/test_report_html.py",
        "tests/test_verify_html.py",
        *session.posargs,
        env=_coverage_file("report"),
    )


@nox.session(python=PYTHON)
@_discarded
def tests_without_torch(session: nox.Session) -> None:
    """The suite where torch is absent: live torch tests skip, the golden fixtures are checked.

    The worker-process tests that never touch torch (TORCH_FREE_PROCESS_TESTS) are left out.
    """
    _install(session, None, "test-no-torch")
    session.run(
        "python",
        "-c",
        "import importlib.util, sys; sys.exit(importlib.util.find_spec('torch') is not None)",
    )
    # alone, this session cannot cover the torch side: the combined report must reach 100%
    session.run(
        "pytest",
        *WORKERS,
        "--cov",
        "--cov-report=",
        "--cov-fail-under=0",
        *(f"--ignore={path}" for path in TORCH_FREE_PROCESS_TESTS),
        *session.posargs,
        env=_coverage_file("without-torch"),
    )
    session.run("python", "-m", "reference_rnn", "verify")


@nox.session(python=PYTHON)
def portable_c(session: nox.Session) -> None:
    """The exported cases outside Python: examples/c/ (C99, gcc or cc, make) against an export.

    NumPy only (no torch): export, then `make check` must pass every case the C example
    implements, and its build with a planted mistake must fail them (exit 1: built, ran, failed).
    """
    missing = [tool for tool in ("cc", "make") if shutil.which(tool) is None]
    if missing:
        session.error(f"{' and '.join(missing)} not found: apt-get install gcc make")
    _pip(session, "-e", ".")
    tmp = Path(session.create_tmp()).resolve()
    export, build = tmp / "cases", tmp / "build"
    for folder in (export, build):
        shutil.rmtree(folder, ignore_errors=True)
    session.run("python", "-m", "reference_rnn", "export", str(export))
    where = ["--no-print-directory", "-C", "examples/c", f"EXPORT={export}", f"BUILD={build}"]
    session.run("make", *where, "check", external=True)
    session.run("make", *where, str(build / "check-planted"), external=True)
    session.run(str(build / "check-planted"), str(export), external=True, success_codes=[1])


@nox.session(python=PYTHON)
def coverage(session: nox.Session) -> None:
    """Combine the sessions' data: htmlcov/, coverage.xml and the terminal; fails under 100%.

    Bare `nox` runs it last, after every test session: together they must cover every line and
    branch. It replaces .coverage with the combination of the files in .coverage-data/.
    """
    session.install("coverage[toml]>=7.5")
    session.run("coverage", "combine", str(COVERAGE_DATA))
    session.run("coverage", "html", "--fail-under=0")
    session.run("coverage", "xml", "--fail-under=0")
    session.run("coverage", "report")


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the package."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "typecheck"))
    session.install("--no-deps", "-e", ".")
    session.run("mypy")


@nox.session(python=PYTHON)
def verify(session: nox.Session) -> None:
    """The verification report (`python -m reference_rnn verify`) in a fresh environment."""
    _pip(session, TORCH, "-e", ".")
    session.run("python", "-m", "reference_rnn", "verify", *session.posargs)


@nox.session(python=PYTHON)
def fixtures(session: nox.Session) -> None:
    """Regenerate fixtures/ with torch (then review the diff and commit it)."""
    _pip(session, TORCH, "-e", ".")
    session.run("python", "-m", "reference_rnn.verify.golden", "fixtures")


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """The benchmark (not a test): ours against its own-GEMM floor, torch, JAX and onnxruntime.

    Markdown to stdout, JSON to bench.json.
    """
    _pip(session, *nox.project.dependency_groups(PYPROJECT, "bench"), "-e", ".")
    session.run("python", "benchmarks/bench.py", *session.posargs)


@nox.session(python=PYTHON)
@_discarded
def docs(session: nox.Session) -> None:
    """The documentation site in site/ (mkdocs --strict), with this build's verification page.

    The page shows every installed oracle, so all of them are installed. A failing check is shown
    on the page rather than failing the build: the test sessions fail on it.
    """
    # the tested versions of every framework (torch's CPU build among them): the site's report
    # page shows the same versions as the rest of the docs
    measured = [f"oracle-{framework}-measured" for framework in [*ORACLE_FRAMEWORKS, "exact"]]
    _pip(
        session,
        *nox.project.dependency_groups(PYPROJECT, "docs", *measured),
        TORCH,
        "-e",
        ".[oracles,report]",
    )
    session.run(
        "python",
        "-m",
        "reference_rnn",
        "verify",
        "--html",
        "docs/report.html",
        success_codes=[0, 1],
    )
    session.run(
        "mkdocs", "build", "--strict", "--site-dir", "site", env={"NO_MKDOCS_2_WARNING": "1"}
    )


@nox.session(python=PYTHON)
@_discarded
def browser(session: nox.Session) -> None:
    """The report page and the site of `nox -s docs` in headless Chromium; PNGs in screenshots/.

    Needs Debian's chromium (apt-get install chromium): without it, or without site/, it fails.
    """
    _pip(session, *nox.project.dependency_groups(PYPROJECT, "browser"), "-e", ".[report]")
    session.run(
        "pytest",
        "tests/test_browser.py",
        *session.posargs,
        env={"REQUIRE_BROWSER": "1", "SCREENSHOTS": "screenshots"},
    )


@nox.session(python=PYTHON)
def mutation(session: nox.Session) -> None:
    """Mutation testing of the functional core with mutmut (not CI): the score, then survivors.

    [tool.mutmut] in pyproject.toml says what is mutated and which tests run; DEVELOPERS.md lists
    the survivors that are equivalent, and why.
    """
    _pip(session, *nox.project.dependency_groups(PYPROJECT, "mutation"), "-e", ".")
    session.run("mutmut", "run", "--max-children", "2")
    session.run("mutmut", "export-cicd-stats")
    session.run(
        "python",
        "-c",
        "import json; s = json.load(open('mutants/mutmut-cicd-stats.json')); "
        "print(f\"mutation score: {s['killed']} of {s['total']} mutants killed "
        "({100 * s['killed'] / s['total']:.1f}%)\")",
    )
    session.run("mutmut", "results")


@nox.session(python=["3.12", "3.13"])
@_discarded
def newer_python(session: nox.Session) -> None:
    """The suite on each newer Python the package claims, with the newest NumPy, without torch.

    Not in the default sessions: CI is near its budget (the time measured is in CHANGELOG.md).
    torch is never installed here: its wheel on the disk is for Python 3.11, and any other is a
    CUDA build of several GB; the test-no-torch group holds none, and the session checks it.
    """
    _install(session, None, "test-no-torch")
    session.run(
        "python",
        "-c",
        "import importlib.util, sys; sys.exit(importlib.util.find_spec('torch') is not None)",
    )
    session.run("pytest", *WORKERS, "-p", "no:cacheprovider", *session.posargs)


if __name__ == "__main__":
    nox.main()
