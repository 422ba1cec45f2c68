"""``python -m reference_rnn check``: exit codes, the text report and the JSON document."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from reference_rnn import testing
from reference_rnn.cli import main

ROOT = Path(__file__).parents[1]
SEED = str(ROOT / "examples" / "seed_simple_rnn.py") + ":SimpleRNN"
CORRECTED = str(ROOT / "examples" / "corrected_simple_rnn.py") + ":SimpleRNN"
MISTAKE_IDS = {
    "ignores-initial-state",
    "no-recurrence",
    "recurrent-weight-transposed",
    "missing-bias",
    "derivative-of-preactivation",
    "dWh-uses-current-state",
    "no-gradient-through-time",
    "gradient-from-last-step-only",
    "bias-gradient-not-summed",
    "initial-state-gradient-missing",
    "batch-of-one-only",
    "reads-global-weights",
    "state-not-carried",
    "weight-gradients-overwritten",
    "float32-buffers",
    "gradients-averaged-over-batch",
    "dWh-missing-initial-state-term",
    "last-state-gradient-at-every-step",
    "tanh-derivative-applied-twice",
    "tanh-derivative-of-output",
    "last-step-not-computed",
    "time-major-output",
    "time-major-throughout",
    "weights-updated-in-backward",
    "backward-is-generator",
    "column-bias-gradient-flat",
    "column-input-as-rows",
    "leaves-the-graph",
    "in-place-write",
    "imports-the-reference",
    "modifies-its-arguments",
}


def run_json(capsys, *argv: str) -> tuple[int, dict]:
    code = main(["check", *argv, "--json"])
    return code, json.loads(capsys.readouterr().out)  # exactly one document, or this fails


def test_a_correct_layer_exits_0_and_its_json_has_the_documented_schema(capsys):
    # seed 10: the saturating case's dh_prev has a tolerance above float64's 1e-12, as a run's
    # own seed gives it in 2 runs of 40 (the case's measured rounding, times 16)
    code, document = run_json(capsys, CORRECTED, "--api", "sprint", "--seed", "10")
    assert code == 0
    assert set(document) == {
        "passed",
        "api",
        "target",
        "dtype",
        "seed",
        "forward_only",
        "checks",
        "diagnoses",
        "unexplained",
        "looks",
        "consistent",
        "output",
    }
    assert document["passed"] is True
    assert document["output"] == []  # it prints nothing
    assert document["api"] == "sprint"
    assert document["target"] == CORRECTED
    assert document["dtype"] == "float64"
    assert document["diagnoses"] == []
    assert len(document["checks"]) == 60
    for check in document["checks"]:
        assert set(check) == {
            "name",
            "passed",
            "max_error",
            "tolerance",
            "detail",
            "function",
            "case",
            "value",
        }
        assert check["name"] == f"{check['function']}: {check['value']} of case {check['case']}"
        assert check["function"] in ("SimpleRNN.forward", "SimpleRNN.backward")
        assert check["passed"] is True
        assert check["detail"] is None
        assert 0 <= check["max_error"] <= check["tolerance"]
        assert check["tolerance"] >= 1e-12  # float64's, or the case's own rounding's if larger
    assert max(check["tolerance"] for check in document["checks"]) > 1e-12


def test_the_exercise_code_exits_1_and_its_json_names_the_three_mistakes(capsys):
    code, document = run_json(capsys, SEED, "--api", "sprint")
    assert code == 1
    assert document["passed"] is False
    assert [d["mistake"] for d in document["diagnoses"]] == [
        "ignores-initial-state",
        "batch-of-one-only",
        "reads-global-weights",
    ]
    evidence = {
        "check",
        "output",
        "first_time_step",
        "error_vs_reference",
        "error_vs_mistake",
        "checks_explained",
        "detail",
    }
    for diagnosis in document["diagnoses"]:
        assert set(diagnosis) == {"mistake", "description", "evidence"}
        assert diagnosis["description"] == testing.MISTAKES[diagnosis["mistake"]]
        fixed = diagnosis["mistake"] == "reads-global-weights"
        assert set(diagnosis["evidence"]) == evidence | ({"weights"} if fixed else set())
    assert document["diagnoses"][2]["evidence"]["weights"] == ["Wx"]
    crashed = [c for c in document["checks"] if c["max_error"] is None]
    assert crashed
    assert all(not c["passed"] and "raised ValueError" in c["detail"] for c in crashed)


def test_float32_and_the_text_report(capsys):
    assert main(["check", CORRECTED, "--api", "sprint", "--dtype", "float32"]) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    head = (
        f"{CORRECTED} as sprint, float32: error = max|actual - expected| / max|expected| "
        "against the reference, tolerance 1e-05"
    )
    assert lines[0].startswith(head)
    widened = r" \(up to \de-0\d where a case is ill-conditioned: 16 times what rounding moves the reference by there\)"
    assert re.fullmatch(f"({widened})?", lines[0].removeprefix(head))  # the saturating case's
    seed = lines[1].removeprefix("Inputs drawn from seed ").partition(":")[0]
    assert (
        lines[1] == f"Inputs drawn from seed {seed}: the same seed (--seed {seed}) draws them again"
    )
    assert lines[3] == "SimpleRNN.forward and SimpleRNN.backward:"
    assert lines[4].split() == ["case", "h", "dx", "dWx", "dWh", "db", "dh_prev"]
    # title, seed, blank, the functions, header, a row per case, blank, summary
    assert len(lines) == 5 + 10 + 2
    assert lines[-1] == "PASSED: 60 of 60 checks passed; mistakes: none"


def test_the_text_report_of_the_exercise_code(capsys):
    assert main(["check", SEED, "--api", "sprint"]) == 1
    text = capsys.readouterr().out
    assert "forward only: SimpleRNN has no backward" in text
    assert "\nMistakes found:\n  ignores-initial-state: the initial state" in text
    assert "\n  reads-global-weights: a weight passed in is not used" in text
    expected = "\nFailed checks: no catalogued mistake explains these\n  SimpleRNN.forward: h of case batch,"
    assert expected in text
    assert text.splitlines()[-1] == (
        "FAILED (forward only): 1 of 10 checks passed; "
        "mistakes: ignores-initial-state, batch-of-one-only, reads-global-weights"
    )


def test_a_module_by_its_name_and_a_module_of_functions(tmp_path, monkeypatch, capsys):
    (tmp_path / "my_rnn.py").write_text((ROOT / "examples" / "cs231n_rnn_layers.py").read_text())
    monkeypatch.syspath_prepend(tmp_path)
    assert main(["check", "my_rnn", "--api", "cs231n"]) == 0
    # the package's own functional core has the cs231n signatures, but the worker refuses the
    # package to the code it checks (isolate=False checks it in this process)
    capsys.readouterr()
    assert main(["check", "reference_rnn", "--api", "cs231n"]) == 1
    assert capsys.readouterr().out.endswith("mistakes: imports-the-reference\n")


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("no/such/file.py:SimpleRNN", "no file no/such/file.py"),
        ("no_such_module_here:RNN", "no module 'no_such_module_here'"),
        ("no_such_package.module", "no module 'no_such_package.module'"),
        (
            f"{ROOT / 'examples' / 'corrected_simple_rnn.py'}:Missing",
            "corrected_simple_rnn.py has no Missing",
        ),
        ("json:NotThere", "json has no NotThere"),
        (":SimpleRNN", "no module ''"),
    ],
)
def test_a_target_that_does_not_exist_exits_2(capsys, target, message):
    assert main(["check", target, "--api", "sprint"]) == 2
    assert message in capsys.readouterr().err


def test_code_that_raises_while_loading_is_a_failed_check_exit_1(tmp_path, capsys):
    broken = tmp_path / "broken.py"
    broken.write_text("import numpy as np\n\nraise ImportError('needs common.np')\n")
    code, document = run_json(capsys, f"{broken}:TimeRNN", "--api", "dlfs2")
    assert code == 1
    (check,) = document["checks"]
    assert check["name"] == "load: TARGET"
    assert check["detail"].startswith(f"loading {broken} raised ImportError: needs common.np")
    assert document["diagnoses"] == []


def test_a_file_can_import_its_neighbours(tmp_path):
    (tmp_path / "helpers.py").write_text((ROOT / "examples" / "cs231n_rnn_layers.py").read_text())
    (tmp_path / "layers.py").write_text("from helpers import *  # noqa: F403\n")
    assert main(["check", str(tmp_path / "layers.py"), "--api", "cs231n"]) == 0
    assert str(tmp_path) not in sys.path


def test_the_command_line_entry_point_exits_with_the_status():
    for target, status in ((CORRECTED, 0), (SEED, 1)):
        result = subprocess.run(
            [sys.executable, "-m", "reference_rnn", "check", target, "--api", "sprint", "--json"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == status
        assert json.loads(result.stdout)["passed"] is (status == 0)


def test_the_mistake_ids_are_the_fixed_ones():
    from reference_rnn.testing import MISTAKES

    assert set(MISTAKES) == MISTAKE_IDS
    assert all(description and "\n" not in description for description in MISTAKES.values())
