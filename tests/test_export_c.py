"""The exported cases are usable without Python: examples/c/ (C99, no zlib) passes every case it
implements, and its copy with a planted mistake fails them.

Skipped, saying why, where there is no C compiler or make; the ``portable_c`` nox session runs the
same without pytest.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from reference_rnn.cli import main

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "c"

pytestmark = pytest.mark.skipif(
    shutil.which("cc") is None or shutil.which("make") is None,
    reason="no C compiler (cc) or make on PATH: the C example cannot be built",
)


def make(target: str, export: Path, build: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-C",
            str(EXAMPLE),
            target,
            f"EXPORT={export}",
            f"BUILD={build}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_c_example_passes_every_case_it_implements_and_its_planted_mistake_fails(tmp_path):
    export = tmp_path / "cases"
    assert main(["export", str(export)]) == 0
    done = make("check", export, tmp_path / "build")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert sum(line.startswith("ok   ") for line in lines) == 60
    assert lines[-2].startswith("float64: 30 passed, worst error ")
    assert "; float32: 30 passed, worst error " in lines[-2]
    assert lines[-1] == (
        "0 failed; 22 rnn cases skipped (multi-layer torch layout, not implemented here); "
        "50 lstm and gru cases skipped (other cells)"
    )

    planted = make("check-planted", export, tmp_path / "build")
    assert planted.returncode != 0
    # it was built and ran: the checks failed, not the compiler
    assert planted.stdout.splitlines()[-1].startswith("60 failed; ")
    assert "FAIL step-tanh-sample.float64.npz " in planted.stdout


def test_a_relative_export_is_taken_from_where_make_is_run(tmp_path):
    assert main(["export", str(tmp_path / "cases"), "--only", "step-tanh-sample"]) == 0
    build = tmp_path / "build"
    command = ["make", "--no-print-directory", "-C", str(EXAMPLE), "check", "EXPORT=cases"]
    # as a shell runs it in tmp_path: its PWD is tmp_path
    done = subprocess.run(
        [*command, f"BUILD={build}"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "PWD": str(tmp_path)},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-2].startswith("float64: 1 passed, worst error ")
