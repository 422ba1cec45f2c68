"""The verification report: what it runs, how it shows it, and that it can fail."""

from __future__ import annotations

import io
import json
import runpy
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from reference_rnn import cli, oracles
from reference_rnn.cli import main
from reference_rnn.core import elman as functional
from reference_rnn.verify import plan, suite, text
from reference_rnn.verify.plan import run
from reference_rnn.verify.rows import Row, Verification
from reference_rnn.verify.text import format_table

# The counts docs/verification.md states for `verify` with torch installed.
# parity: the Elman cell's 40, the LSTM's 16, the GRU's 14 (reset_after=True: torch computes no
# other); then training: 9 optimizers, 4 clippings, 2 TBPTT, 1 classifier
TORCH_CHECKS = 40 + 16 + 14 + 16
FD_CHECKS = 6 + 4  # the Elman cell's, then the LSTM's 2 and the GRU's 2
GOLDEN_CHECKS = 10 + 3 + 4 + 1  # the Elman cell's, the LSTM's, the GRU's, the sample's states
STATISTICS_CHECKS = 4  # the random initializers' laws
DEFINITION_CHECKS = 2  # orthogonality, seeds


@pytest.fixture(scope="module")
def report() -> Verification:
    return run(against=["torch"])


def test_every_kind_of_check_runs_and_passes(torch: ModuleType, report):
    assert report.passed, format_table(report)
    kinds = [check.against for check in report.checks]
    assert kinds.count("documented sample") == 1
    assert kinds.count("torch") == TORCH_CHECKS
    assert kinds.count("finite differences") == FD_CHECKS
    assert kinds.count("golden fixture") == GOLDEN_CHECKS
    assert kinds.count("statistics") == STATISTICS_CHECKS
    assert kinds.count("definition") == DEFINITION_CHECKS
    total = 1 + TORCH_CHECKS + FD_CHECKS + GOLDEN_CHECKS + STATISTICS_CHECKS + DEFINITION_CHECKS
    assert len(kinds) == total
    assert {check.dtype for check in report.checks if check.against == "torch"} == {
        "float64",
        "float32",
    }
    assert report.skipped == {}
    assert report.versions["torch"].startswith("2.13.0")


def test_the_table_has_a_row_per_check_a_row_per_source_and_a_summary(torch: ModuleType, report):
    text = format_table(report)
    lines = text.splitlines()
    assert lines[0].split() == ["check", "against", "dtype", "max", "error", "tolerance", "result"]
    sources = [
        "documented sample",
        "golden fixture",
        "torch",
        "finite differences",
        "statistics",
        "definition",
    ]
    # header, rule, a row per check, rule, a row per source, blank, summary
    assert len(lines) == 2 + len(report.checks) + 1 + len(sources) + 2
    per_source = lines[3 + len(report.checks) : 3 + len(report.checks) + len(sources)]
    assert per_source[2].startswith(f"torch 2.13.0+cpu: {TORCH_CHECKS} of {TORCH_CHECKS} passed")
    total = len(report.checks)
    assert lines[-1].startswith(f"PASSED: {total} of {total} checks passed")
    assert "torch 2.13.0" in lines[-1]


def test_json_is_one_document_with_the_documented_schema(torch: ModuleType, report):
    document = report.to_json()
    assert set(document) == {"passed", "numpy_version", "versions", "checks", "skipped", "accuracy"}
    assert document["accuracy"] == []  # exact arithmetic did not run
    for check in document["checks"]:
        assert set(check) == {
            "name",
            "against",
            "dtype",
            "max_error",
            "tolerance",
            "error",
            "known_difference",
            "passed",
            "status",
        }
        assert check["status"] == "pass"
        assert isinstance(check["max_error"], float)
    json.loads(json.dumps(document))


def test_a_broken_gradient_is_reported_and_the_exit_code_says_so(monkeypatch, capsys):
    right = functional._backward

    def broken(*args, **kwargs):
        dx, dh0, dWx, dWh, db = right(*args, **kwargs)
        return dx, dh0, dWx, dWh * 1.001, db

    monkeypatch.setattr(functional, "_backward", broken)
    assert main(["verify", "--json", "--against", "torch"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["passed"] is False
    failed = {check["against"] for check in document["checks"] if not check["passed"]}
    assert "finite differences" in failed
    assert "golden fixture" in failed
    passed = [check["name"] for check in document["checks"] if check["passed"]]
    assert "SimpleRNN: the exercise's print(rnn.forward(x, h)[-1])" in passed  # forward is fine


def test_without_torch_the_rest_runs_and_the_skip_is_said(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    monkeypatch.setattr(oracles, "ORACLES", {"torch": oracles.ORACLES["torch"]})
    assert main(["verify"]) == 0  # every oracle, where installed: a missing one is skipped
    text = capsys.readouterr().out
    assert "SKIPPED" in text
    assert 'the torch oracle needs torch: pip install "reference-rnn[oracle-torch]"' in text
    report = run(against=["torch"])
    assert report.versions == {}
    assert not [check for check in report.checks if check.against == "torch"]
    document = report.to_json()
    assert document["skipped"][0]["against"] == "torch"
    assert document["passed"] is True


def test_an_oracle_named_with_against_is_required(monkeypatch, capsys):
    """``verify --against torch`` without torch fails, so that it can gate a CI job."""
    monkeypatch.setitem(sys.modules, "torch", None)
    assert main(["verify", "--json", "--against", "torch,exact"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["passed"] is False
    assert document["skipped"] == []
    [required] = [check for check in document["checks"] if check["against"] == "torch"]
    assert required["name"] == "torch: not installed, required"
    assert required["passed"] is False
    assert required["error"].startswith(
        'the torch oracle needs torch: pip install "reference-rnn[oracle-torch]"'
    )
    assert main(["verify", "--against", "torch"]) == 1
    text = capsys.readouterr().out
    assert "torch: not installed, required" in text
    assert "FAIL: the torch oracle needs torch" in text


def test_a_known_difference_is_shown_and_neither_passes_nor_fails():
    known = Row("onnx case", "onnx reference", "float64", 0.5, 1e-12, known_difference="why")
    failing = Row("other", "torch", "float64", 0.5, 1e-12)
    passing = Row("fine", "torch", "float64", 1e-15, 1e-12)
    assert known.status == "known difference"
    assert failing.status == "FAIL"
    assert passing.status == "pass"
    assert Verification([known, passing]).passed
    assert not Verification([known, failing]).passed
    assert not Verification([known]).passed  # nothing that counts ran
    text = format_table(Verification([known, passing]))
    assert "known difference: why" in text
    assert "1 known differences" in text.splitlines()[-1]
    assert "onnx reference: 0 of 0 passed, 1 known difference" in text


def test_a_check_that_crashes_or_gives_nan_fails_with_its_reason(monkeypatch):
    def crash():
        raise RuntimeError("boom")

    monkeypatch.setattr(plan, "_sample_printed", crash)
    monkeypatch.setattr(plan, "_sample_states", lambda: float("nan"))
    report = run(against=[])
    first, second = report.checks[:2]
    assert (first.max_error, first.error) == (None, "RuntimeError: boom")
    assert (second.max_error, second.error) == (None, "the error is NaN")
    assert not report.passed
    assert "FAIL: RuntimeError: boom" in format_table(report)
    assert report.to_json()["checks"][0]["max_error"] is None


def test_an_unknown_oracle_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["verify", "--against", "torch,tensorflow"])
    assert exit_info.value.code == 2
    assert "unknown oracle(s) ['tensorflow']" in capsys.readouterr().err


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_shown_on_a_terminal_and_not_when_piped(monkeypatch, capsys):
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setattr(oracles, "ORACLES", {})  # the checks without an oracle: fast, anywhere
    assert main(["verify"]) == 0
    assert "[1/" in terminal.getvalue()
    assert terminal.getvalue().endswith("\r\033[K")
    assert "\r" not in capsys.readouterr().out
    assert text.progress_to(io.StringIO()) is None


def test_python_dash_m_runs_main(monkeypatch):
    monkeypatch.setattr(cli, "main", lambda: 0)
    # by path: the package is a pytest plugin's, so pytest's assertion rewriter imports its
    # modules, and run_module asks that importer for a get_code it does not have
    main_py = Path(cli.__file__).with_name("__main__.py")
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(main_py), run_name="__main__")
    assert exit_info.value.code == 0


def test_python_dash_m_prints_exactly_one_json_document():
    pytest.importorskip("mpmath")  # --against exact requires it
    result = subprocess.run(
        # exact arithmetic only: what this tests is the process's output, not torch's checks
        [sys.executable, "-m", "reference_rnn", "verify", "--json", "--against", "exact"],
        capture_output=True,
        text=True,
        check=False,
    )
    document = json.loads(result.stdout)
    assert document["passed"] is True
    assert result.returncode == 0
    assert result.stderr == ""  # piped: no progress display


def test_an_oracle_is_planned_only_for_the_cases_it_supports_and_its_reasons_are_kept():
    stub = ModuleType("stub")
    stub.unsupported = lambda problem: "no float32" if problem.dtype == "float32" else None
    stub.known_difference = lambda problem: "a reason" if problem.lengths is not None else None
    planned = [p for p in plan.plan({"stub": stub}) if p.against == "stub"]
    cases = [*suite.PARITY_CASES, *suite.CELL_CASES]
    float64 = [case for case in cases if case.dtype == "float64"]
    assert [p.name for p in planned] == [case.name for case in float64]
    assert {p.dtype for p in planned} == {"float64"}
    with_lengths = {p.name for p in planned if p.known_difference == "a reason"}
    assert with_lengths == {
        "RNN lengths (unsorted)",
        "RNN lengths, 2 layers bidirectional relu",
        "LSTM 2 layers bidirectional, lengths",
        "LSTM 3 layers bidirectional, proj_size, lengths",
        "LSTM 2 layers bidirectional, dropout masks, lengths",
        "GRU lengths, 2 layers bidirectional, reset_after=True",
        "GRU lengths, 2 layers bidirectional, reset_after=False",
    }


def test_every_cell_and_convention_has_rows_in_both_dtypes_for_the_oracles_that_compute_it(
    torch: ModuleType, report
):
    """The LSTM's and the GRU's rows: every case of each against torch where torch computes it,
    and each against central differences."""
    torch_rows = {(c.name, c.dtype) for c in report.checks if c.against == "torch"}
    for case in suite.CELL_CASES:
        computed = case.config.cell == "LSTM" or case.config.reset_after
        assert ((case.name, case.dtype) in torch_rows) == computed, case.name
    fd_rows = {c.name for c in report.checks if c.against == "finite differences"}
    assert {case.name for case in suite.FD_CELL_CASES} <= fd_rows
    gru = [case for case in suite.FD_CELL_CASES if case.config.cell == "GRU"]
    assert {case.config.reset_after for case in gru} == {True, False}
