"""``reference-rnn``'s front door: --version, an unknown command, and where targets are found."""

from __future__ import annotations

import json
import sys

import pytest

import reference_rnn
from reference_rnn import cli


def test_version_prints_the_package_s(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"reference-rnn {reference_rnn.__version__}\n"


def test_an_unknown_command_is_a_usage_error_that_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["verfy", "--json"])
    assert info.value.code == 2
    captured = capsys.readouterr()
    message = "unknown command 'verfy' (choose from verify, check, export)"
    assert captured.err.endswith(f"reference-rnn: error: {message}\n")
    assert json.loads(captured.out) == {"passed": False, "error": message}


def test_the_console_script_adds_nothing_to_the_checker_s_own_imports(monkeypatch, tmp_path):
    # targets in the working folder are found by the worker (tests/test_check_hygiene.py)
    monkeypatch.setattr(cli, "main", lambda: 0)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", ["/somewhere/bin"])
    assert cli.console() == 0
    assert sys.path == ["/somewhere/bin"]
