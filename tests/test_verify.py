"""The verification report: what it runs, how it shows it, and that it can fail."""

from __future__ import annotations

import io
import json
import runpy
import subprocess
import sys
from types import ModuleType

import pytest

from reference_rnn import functional, verify
from reference_rnn.verify import Report, format_table, main, run


@pytest.fixture(scope="module")
def report() -> Report:
    return run()


def test_every_kind_of_check_runs_and_passes(torch: ModuleType, report):
    assert report.passed, format_table(report)
    kinds = [check.against for check in report.checks]
    assert kinds.count("documented sample") >= 1
    assert kinds.count("torch") >= 30
    assert kinds.count("finite differences") >= 5
    assert kinds.count("golden fixture") >= 10
    assert {check.dtype for check in report.checks if check.against == "torch"} == {
        "float64",
        "float32",
    }
    assert report.torch_skipped is None


def test_the_table_has_a_row_per_check_and_a_summary(torch: ModuleType, report):
    text = format_table(report)
    lines = text.splitlines()
    assert lines[0].split() == ["check", "against", "dtype", "max", "error", "tolerance", "result"]
    assert len(lines) == 2 + len(report.checks) + 2
    assert lines[-1].startswith(f"PASSED: {len(report.checks)} of {len(report.checks)} checks")
    assert "torch 2." in lines[-1]


def test_json_is_one_document_with_the_documented_schema(torch: ModuleType, report, capsys):
    document = report.to_json()
    assert set(document) >= {"passed", "numpy_version", "torch_version", "checks"}
    for check in document["checks"]:
        assert set(check) >= {"name", "against", "dtype", "max_error", "tolerance", "passed"}
        assert check["against"] in {
            "documented sample",
            "torch",
            "finite differences",
            "golden fixture",
        }
        assert isinstance(check["max_error"], float)
    json.loads(json.dumps(document))


def test_a_broken_gradient_is_reported_and_the_exit_code_says_so(monkeypatch, capsys):
    right = functional._backward

    def broken(*args, **kwargs):
        dx, dh0, dWx, dWh, db = right(*args, **kwargs)
        return dx, dh0, dWx, dWh * 1.001, db

    monkeypatch.setattr(functional, "_backward", broken)
    assert main(["verify", "--json"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["passed"] is False
    failed = {check["against"] for check in document["checks"] if not check["passed"]}
    assert "finite differences" in failed
    assert "golden fixture" in failed
    passed = [check["name"] for check in document["checks"] if check["passed"]]
    assert "SimpleRNN: the exercise's print(rnn.forward(x, h)[-1])" in passed  # forward is fine


def test_without_torch_the_rest_runs_and_the_skip_is_said(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    assert main([]) == 0
    text = capsys.readouterr().out
    assert "SKIPPED" in text
    assert "pip install torch==2.13.0" in text
    report = run()
    assert report.torch_version is None
    assert not [check for check in report.checks if check.against == "torch"]
    document = report.to_json()
    assert document["torch_version"] is None
    assert document["skipped"][0]["against"] == "torch"
    assert document["passed"] is True


def test_a_check_that_crashes_or_gives_nan_fails_with_its_reason(monkeypatch):
    def crash():
        raise RuntimeError("boom")

    monkeypatch.setattr(verify, "_sample_printed", crash)
    monkeypatch.setattr(verify, "_sample_states", lambda: float("nan"))
    monkeypatch.setitem(sys.modules, "torch", None)
    report = run()
    first, second = report.checks[:2]
    assert (first.max_error, first.error) == (None, "RuntimeError: boom")
    assert (second.max_error, second.error) == (None, "the error is NaN")
    assert not report.passed
    assert "FAIL: RuntimeError: boom" in format_table(report)
    assert report.to_json()["checks"][0]["max_error"] is None


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_shown_on_a_terminal_and_not_when_piped(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch", None)
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["verify"]) == 0
    assert "[1/" in terminal.getvalue()
    assert terminal.getvalue().endswith("\r\033[K")
    assert "\r" not in capsys.readouterr().out
    assert verify._progress_to(io.StringIO()) is None


def test_python_dash_m_runs_main(monkeypatch):
    monkeypatch.setattr(verify, "main", lambda: 0)
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_module("reference_rnn", run_name="__main__")
    assert exit_info.value.code == 0


def test_python_dash_m_prints_exactly_one_json_document():
    result = subprocess.run(
        [sys.executable, "-m", "reference_rnn", "verify", "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    document = json.loads(result.stdout)
    assert result.returncode == (0 if document["passed"] else 1)
    assert result.stderr == ""  # piped: no progress display
