"""``verify --html`` and ``check --html`` without matplotlib (the pages: test_report_html)."""

from __future__ import annotations

import sys
from pathlib import Path

from reference_rnn import pages
from reference_rnn.cli import main
from reference_rnn.verify import command as verify_command
from reference_rnn.verify import drift
from reference_rnn.verify import html as report_html
from reference_rnn.verify.rows import Row, Verification

PASSING = Verification(checks=[Row("rnn_forward/backward tanh", "torch", "float64", 1e-16, 1e-12)])


def _never(*_, **__):
    raise AssertionError


def test_without_matplotlib_it_says_how_to_install_before_the_checks(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(verify_command, "run", _never)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert main(["verify", "--html", str(tmp_path / "report.html")]) == 2
    assert 'pip install "reference-rnn[report]"' in capsys.readouterr().err
    assert not (tmp_path / "report.html").exists()


def test_the_page_gets_the_report_the_path_and_the_drift(monkeypatch, tmp_path, capsys):
    written = []
    monkeypatch.setattr(verify_command, "run", lambda **_: PASSING)
    monkeypatch.setattr(pages, "require_matplotlib", lambda: None)
    monkeypatch.setattr(drift, "measure_drift", lambda: "the drift")
    monkeypatch.setattr(report_html, "write", lambda *args: written.append(args))
    assert main(["verify", "--html", str(tmp_path / "r.html"), "--against", "torch"]) == 0
    assert written == [(PASSING, str(tmp_path / "r.html"), "the drift")]
    assert "PASSED: 1 of 1 checks passed" in capsys.readouterr().out


def test_without_html_no_page_is_made(monkeypatch, capsys):
    monkeypatch.setattr(verify_command, "run", lambda **_: PASSING)
    monkeypatch.setattr(report_html, "write", _never)
    assert main(["verify"]) == 0
    assert "PASSED" in capsys.readouterr().out


def test_check_html_without_matplotlib_writes_the_page_without_plots_and_says_how(
    monkeypatch, tmp_path, capsys
):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib: ImportError
    seed = str(Path(__file__).parents[1] / "examples" / "seed_simple_rnn.py") + ":SimpleRNN"
    page = tmp_path / "c.html"
    # the verdict's status (the seed's code has mistakes), not a usage error
    assert main(["check", seed, "--api", "sprint", "--seed", "0", "--html", str(page)]) == 1
    assert capsys.readouterr().err.endswith(f"wrote the HTML report to {page}\n")
    text = page.read_text(encoding="utf-8")
    assert "<svg" not in text
    assert 'id="no-plot">No plots: the HTML report&#x27;s plots needs matplotlib' in text
    assert "pip install &quot;reference-rnn[report]&quot;" in text
