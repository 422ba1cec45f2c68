"""The checker's own process against hostile names, messages, options, paths and folders.

Each test writes the hostile input or code, runs the real command (the ``reference-rnn`` console
script, in a subprocess) and asserts the exact outcome: the exit status, stdout exactly the
checker's report (or one JSON document), stderr one line for what it refuses. Issue 26, "The
checker's own process":

- every text from the judged code (its file name, names, messages, printed lines) is printed
  escaped, by :func:`reference_rnn.checker.printing.printable`, in the text, the JSON, the HTML
  page and the pytest plugin's lines;
- a message of 10 MB is cut before it is escaped, in the worker and again in the checker;
- numeric options out of range are usage errors before anything runs;
- ``--html`` into a path that cannot be written is a usage error before anything runs;
- a closed stdout, or a pipe whose reader has gone, leaves the exit status the verdict's;
- the checker's own imports never come from the working folder (the console script, and
  ``python -P -m``), while plain ``python -m`` runs a ``reference_rnn.py`` found there.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from processes import call_limit

from reference_rnn import testing
from reference_rnn.checker import printing
from reference_rnn.checker.limits import count, named
from reference_rnn.checker.sandbox import Limits

EXAMPLES = Path(__file__).parents[1] / "examples"
CORRECT = EXAMPLES / "cs231n_rnn_layers.py"
SCRIPT = Path(sys.executable).with_name("reference-rnn")
#: What a forged report would print: lines the checker's own report ends with
FORGED = "PASSED: 120 of 120 checks passed; mistakes: none"
#: A newline, an ANSI escape, a bidirectional override, a carriage return and a line separator
HOSTILE = f"x\n{FORGED}\x1b[2J\u202e\r\u2028"
ESCAPED = f"x\\n{FORGED}\\x1b[2J\\u202e\\r\\u2028"
RAISING = """\
import sys
print({text!r})
print({text!r}, file=sys.stderr)


def _raise(*args, **kwargs):
    raise ValueError({message})


rnn_step_forward = rnn_step_backward = rnn_forward = rnn_backward = _raise
"""


def run(*args: str, cwd: Path | None = None, **kwargs) -> subprocess.CompletedProcess[str]:
    """The console script, as a teacher runs it."""
    return subprocess.run(
        [str(SCRIPT), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        check=False,
        **kwargs,
    )


def assert_printable(text: str) -> None:
    """Every line of ``text`` is printable: no text from the judged code broke or forged one."""
    lines = text.split("\n")
    assert all(line.isprintable() for line in lines), text
    assert sum(line.startswith(("PASSED", "FAILED")) for line in lines) <= 1


def raising(folder: Path, message: str, *, name: str = "student.py", text: str = HOSTILE) -> Path:
    """A module of the cs231n API whose every function raises ``message`` and that prints."""
    path = folder / name
    path.write_text(RAISING.format(text=text, message=message))
    return path


# -- 1. every name from the target printed escaped --------------------------------------------------


def test_a_hostile_file_name_message_and_output_forge_no_line_of_the_text_report(tmp_path):
    path = raising(tmp_path, repr(HOSTILE), name=f"student{HOSTILE}.py")
    result = run("check", str(path), "--api", "cs231n")
    assert result.returncode == 1
    assert result.stderr == ""
    assert_printable(result.stdout)
    lines = result.stdout.split("\n")
    assert lines[0].startswith(f"{tmp_path}/student{ESCAPED}.py as cs231n, float64: error = ")
    assert f"ValueError: {ESCAPED} (at student{ESCAPED}.py:7: raise ValueError(" in result.stdout
    printed = f"  | {FORGED}\\x1b[2J\\u202e\\r\\u2028"  # its printed lines: shown as such, escaped
    assert lines.count("  | x") == lines.count(printed) == 2  # stdout's and stderr's
    assert lines[-2:] == ["FAILED: 0 of 120 checks passed; mistakes: none", ""]
    assert sum(line.startswith(("PASSED", "FAILED")) for line in lines) == 1


def test_the_json_document_and_the_html_page_hold_the_escaped_texts(tmp_path):
    pytest.importorskip("matplotlib", reason="--html needs the [report] extra")
    path = raising(tmp_path, repr(HOSTILE), name=f"student{HOSTILE}.py")
    page = tmp_path / "page.html"
    result = run("check", str(path), "--api", "cs231n", "--json", "--html", str(page))
    assert result.returncode == 1
    assert result.stderr == f"reference-rnn check: wrote the HTML report to {page}\n"
    document = json.loads(result.stdout)  # exactly one document
    assert document["target"] == f"{tmp_path}/student{ESCAPED}.py"
    assert document["output"][:2] == ["x", f"{FORGED}\\x1b[2J\\u202e\\r\\u2028"]
    assert all(check["detail"].isprintable() for check in document["checks"])
    assert sum(ESCAPED in check["detail"] for check in document["checks"]) >= 20
    html = page.read_text(encoding="utf-8")
    assert HOSTILE not in html
    assert "\x1b" not in html
    assert "\u202e" not in html
    assert f"student{ESCAPED}.py" in html


def test_the_pytest_plugin_s_lines_hold_the_escaped_texts(tmp_path):
    path = raising(tmp_path, repr(HOSTILE), name=f"student{HOSTILE}.py")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "reference_rnn",
            "-p",
            "no:cacheprovider",
            "--rnn-target",
            str(path),
            "--rnn-include",
            "*-sample-float64-*",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    assert result.returncode == 1
    assert "\x1b" not in result.stdout
    assert "\u202e" not in result.stdout
    assert f"\n{FORGED}" not in result.stdout
    assert f"= reference_rnn: {tmp_path}/student{ESCAPED}.py as cs231n, float64 =" in result.stdout
    assert f"  not compared: rnn_forward raised ValueError: {ESCAPED} (at " in result.stdout


def test_a_class_s_hostile_name_in_testing_check_is_escaped(tmp_path, monkeypatch):
    (tmp_path / "hostile_names.py").write_text(
        CORRECT.read_text().replace("def rnn_forward(", "def rnn_forward_(")
        + f"\nrnn_forward_.__qualname__ = {HOSTILE!r}\n"
    )
    monkeypatch.syspath_prepend(tmp_path)
    import hostile_names

    report = testing.check(hostile_names, api="cs231n")
    assert_printable(report.format())
    assert report.checks[0].detail == "hostile_names has no rnn_forward"


def test_a_target_that_is_not_found_is_one_line_however_it_is_named(tmp_path):
    missing = f"{tmp_path}/missing{HOSTILE}.py"
    result = run("check", missing, "--api", "cs231n")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == f"reference-rnn check: error: no file {tmp_path}/missing{ESCAPED}.py\n"
    result = run("check", "anything.py", "--api", "cs231n", f"extra{HOSTILE}")
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        f"reference-rnn: error: unrecognized arguments: extra{ESCAPED}"
    )


def test_printable_escapes_and_is_idempotent():
    assert printing.printable(HOSTILE) == ESCAPED
    assert printing.printable(ESCAPED) == ESCAPED
    assert printing.printable("a\tb") == "a   b"
    assert printing.printable("\udcff") == "\\udcff"  # an undecodable byte of a file name
    assert printing.printable("abcdef", 5) == "ab..."
    assert printing.printable("abcde", 5) == "abcde"
    assert printing.printable("\x1b" * 3, 8) == "\\x1b\\..."  # an escape may be cut too


# -- 2. messages from the judged code cut before any processing --------------------------------------


def test_a_10_mb_message_is_cut_before_it_is_escaped_and_costs_no_more_than_a_passing_check(
    tmp_path,
):
    start = time.monotonic()
    passing = run("check", str(CORRECT), "--api", "cs231n", "--json")
    measured = time.monotonic() - start
    assert passing.returncode == 0
    # 10 MB of ANSI escapes, raised by every call and printed: each character escapes to 4
    huge = raising(tmp_path, '"\\x1b[31m" * 2_000_000', text="\x1b" * 10_000_000)
    start = time.monotonic()
    result = run("check", str(huge), "--api", "cs231n", "--json")
    took = time.monotonic() - start
    assert result.returncode == 1
    document = json.loads(result.stdout)
    raised = [c for c in document["checks"] if "ValueError" in c["detail"]]
    assert len(raised) >= 20
    for check in raised:
        assert check["detail"].endswith("...")
        assert len(check["detail"]) <= printing.LONGEST
        assert "\\x1b[31m\\x1b[31m" in check["detail"]
    assert document["output"][0] == "\\x1b" * 49 + "\\..."  # the printed line, cut
    assert took < 4 * measured, (took, measured)  # escaped first, it took 99 s for 2 s (50x)


def test_printable_cuts_a_10_mb_text_before_escaping_it():
    text = "\x1b" * 10_000_000
    start = time.monotonic()
    printing.printable("\x1b" * 100)
    small = time.monotonic() - start
    start = time.monotonic()
    shown = printing.printable(text)
    assert time.monotonic() - start < 1000 * small + 0.05  # not the 10 million characters
    assert shown == "\\x1b" * 999 + "\\..."
    assert printing.cut(text, 10) == "\x1b" * 7 + "..."


# -- 3. numeric options range-checked ---------------------------------------------------------------

REFUSED = {
    "--timeout": ("nan", "inf", "1e400", "-1", "0", "86401", "soon"),
    "--memory-limit": ("1e20", "-1", "2.5", "16777217", "nan", "many"),
}
MUST = {
    "--timeout": "must be more than 0 and at most 86400 seconds",
    "--memory-limit": "must be a whole number of megabytes from 0 (no limit) to 16777216",
}


@pytest.mark.parametrize(
    ("option", "value"), [(o, v) for o, values in REFUSED.items() for v in values]
)
def test_a_numeric_option_out_of_range_is_a_usage_error_before_anything_runs(
    tmp_path, option, value
):
    marker = tmp_path / "ran"
    target = tmp_path / "student.py"
    target.write_text(f"open({str(marker)!r}, 'w').close()\n")
    result = run("check", str(target), "--api", "cs231n", option, value)
    assert result.returncode == 2
    assert result.stdout == ""
    error = f"reference-rnn check: error: argument {option}: {MUST[option]}, got {value}"
    assert result.stderr.splitlines()[-1] == error
    assert result.stderr.startswith("usage: reference-rnn check")  # argparse's, as for every option
    assert sum("error:" in line for line in result.stderr.splitlines()) == 1
    assert not marker.exists()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            {"timeout": float("nan")},
            "timeout must be more than 0 and at most 86400 seconds, got nan",
        ),
        (
            {"timeout": float("inf")},
            "timeout must be more than 0 and at most 86400 seconds, got inf",
        ),
        ({"timeout": 10**400}, "timeout must be more than 0 and at most 86400 seconds, got 1"),
        ({"timeout": True}, "timeout must be more than 0 and at most 86400 seconds, got True"),
        (
            {"memory_limit": 10**20},
            (
                "memory_limit must be a whole number of megabytes from 0 (no limit) to 16777216, "
                "got 100000000000000000000"
            ),
        ),
        (
            {"memory_limit": 2.5},
            (
                "memory_limit must be a whole number of megabytes from 0 (no limit) to 16777216, "
                "got 2.5"
            ),
        ),
    ],
)
def test_testing_check_and_parametrize_name_the_argument_out_of_range(arguments, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}"):
        testing.check(str(CORRECT), api="cs231n", **arguments)
    with pytest.raises(ValueError, match=f"^{re.escape(message)}"):
        testing.parametrize(str(CORRECT), api="cs231n", **arguments)


def test_limits_name_the_field_out_of_range():
    assert Limits(timeout=0.5, memory=0, restarts=1) == Limits(0.5, 0, 1)
    for fields, name in [
        ({"timeout": -1.0}, "timeout"),
        ({"memory": -1}, "memory"),
        ({"memory": True}, "memory"),
        ({"restarts": 0}, "restarts"),
        ({"restarts": 1001}, "restarts"),
        ({"restarts": "3"}, "restarts"),
    ]:
        with pytest.raises(ValueError, match=f"^{name} must be "):
            Limits(**fields)
    with pytest.raises(ValueError, match=r"^n must be a whole number from 1 to 2, got 3$"):
        named("n", lambda value: count(value, 1, 2), 3)


@pytest.mark.parametrize(
    ("option", "value", "must"),
    [
        ("--rnn-timeout", "inf", MUST["--timeout"]),
        ("--rnn-timeout", "0", MUST["--timeout"]),
        ("--rnn-memory-limit", "1e20", MUST["--memory-limit"]),
    ],
)
def test_the_plugin_s_numeric_options_are_a_usage_error_before_anything_runs(
    tmp_path, option, value, must
):
    marker = tmp_path / "ran"
    (tmp_path / "student.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "reference_rnn",
            "-p",
            "no:cacheprovider",
            "--rnn-target",
            "student.py",
            option,
            value,
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    assert result.returncode == 4
    assert result.stderr == f"ERROR: argument {option}: {must}, got {value}\n\n"  # pytest's
    assert not marker.exists()


def test_the_plugin_s_options_within_range_are_the_worker_s_limits(tmp_path):
    (tmp_path / "student.py").write_text("import time\ntime.sleep(30)\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "reference_rnn",
            "-p",
            "no:cacheprovider",
            "--rnn-target",
            "student.py",
            "--rnn-timeout",
            str(call_limit()),
            "--rnn-memory-limit",
            "0",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    assert result.returncode == 1
    hung = f"not compared: loading student.py did not finish within {call_limit():g} s: stopped"
    assert hung in result.stdout


def test_the_plugin_s_target_that_is_not_found_is_a_usage_error(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "reference_rnn",
            "-p",
            "no:cacheprovider",
            "--rnn-target",
            f"missing{HOSTILE}.py",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    assert result.returncode == 4
    assert result.stderr == f"ERROR: --rnn-target: no file missing{ESCAPED}.py\n\n"  # pytest's


# -- 4. output paths checked before anything runs ---------------------------------------------------


def _paths(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """Each path --html refuses, and the reason the error gives for it."""
    (tmp_path / "folder").mkdir()
    real = tmp_path / "real.html"
    real.write_text("kept")
    (tmp_path / "link.html").symlink_to(real)
    os.mkfifo(tmp_path / "fifo.html")
    return {
        "a missing folder": (
            tmp_path / "missing" / "page.html",
            f"no folder {tmp_path}/missing for {tmp_path}/missing/page.html",
        ),
        "a folder": (tmp_path / "folder", f"{tmp_path}/folder is a folder"),
        "a read-only place": (Path("/sys/page.html"), "cannot write /sys/page.html: "),
        "a symbolic link": (
            tmp_path / "link.html",
            f"{tmp_path}/link.html is a symbolic link: the checker follows none",
        ),
        "a FIFO": (
            tmp_path / "fifo.html",
            f"{tmp_path}/fifo.html is not a regular file (a FIFO, a socket or a device)",
        ),
        "a device": (
            Path("/dev/null"),
            "/dev/null is not a regular file (a FIFO, a socket or a device)",
        ),
        "a path through a file": (
            tmp_path / "real.html" / "page.html",
            f"cannot write {tmp_path}/real.html/page.html: Not a directory",
        ),
    }


@pytest.mark.parametrize(
    "kind",
    [
        "a missing folder",
        "a folder",
        "a read-only place",
        "a symbolic link",
        "a FIFO",
        "a device",
        "a path through a file",
    ],
)
def test_html_into_a_path_that_cannot_be_written_is_a_usage_error_before_anything_runs(
    tmp_path, kind
):
    path, reason = _paths(tmp_path)[kind]
    marker = tmp_path / "ran"
    target = tmp_path / "student.py"
    target.write_text(f"open({str(marker)!r}, 'w').close()\n")
    result = run("check", str(target), "--api", "cs231n", "--html", str(path))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"reference-rnn check: error: argument --html: {reason}")
    assert result.stderr.count("\n") == 1
    assert not marker.exists()
    assert (tmp_path / "real.html").read_text() == "kept"
    # with --json: one document
    result = run("check", str(target), "--api", "cs231n", "--json", "--html", str(path))
    assert result.returncode == 2
    assert json.loads(result.stdout)["error"].startswith(f"argument --html: {reason}")


def test_an_output_file_is_written_through_what_was_opened_and_discarded_if_unwritten(
    tmp_path, monkeypatch
):
    path = tmp_path / "page.html"
    path.write_text("an older page, longer than the new one")
    page = printing.OutputFile(str(path))
    page.write("new")
    assert path.read_text() == "new"
    page = printing.OutputFile(str(path))
    page.discard()  # it was there before: kept
    assert path.read_text() == "new"
    fresh = tmp_path / "fresh.html"
    printing.OutputFile(str(fresh)).discard()  # made here, never written: gone
    assert not fresh.exists()
    # a device put at the path after it was looked at: refused once opened
    real_lstat = os.lstat
    monkeypatch.setattr(os, "lstat", lambda _: real_lstat(tmp_path / "missing"))
    with pytest.raises(printing.OutputPathError, match="is not a regular file"):
        printing.OutputFile("/dev/null")


def test_a_usage_error_after_the_page_was_opened_leaves_no_file(tmp_path):
    page = tmp_path / "page.html"
    result = run("check", str(tmp_path / "missing.py"), "--api", "cs231n", "--html", str(page))
    assert result.returncode == 2
    assert result.stderr.splitlines() in (
        [f"reference-rnn check: error: no file {tmp_path}/missing.py"],
        [result.stderr.splitlines()[0]],  # without matplotlib: that usage error instead
    )
    assert not page.exists()


# -- 5. a closed stdout still gives the verdict's exit status -----------------------------------------


@pytest.mark.parametrize(
    ("target", "api", "status"),
    [(str(CORRECT), "cs231n", 0), (f"{EXAMPLES / 'seed_simple_rnn.py'}:SimpleRNN", "sprint", 1)],
)
def test_a_closed_stdout_gives_the_verdict_s_status_and_one_line(target, api, status):
    result = subprocess.run(
        ["sh", "-c", '"$0" "$@" >&-', str(SCRIPT), "check", target, "--api", api],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == status
    assert result.stderr == (
        "reference-rnn check: could not write the report to stdout: stdout is closed\n"
    )


@pytest.mark.parametrize(
    ("target", "api", "status"),
    [(str(CORRECT), "cs231n", 0), (f"{EXAMPLES / 'seed_simple_rnn.py'}:SimpleRNN", "sprint", 1)],
)
def test_a_pipe_whose_reader_has_gone_gives_the_verdict_s_status_and_one_line(target, api, status):
    process = subprocess.Popen(
        [str(SCRIPT), "check", target, "--api", api, "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    process.stdout.close()  # the reader is gone before the report is written
    _, err = process.communicate(timeout=300)
    assert process.returncode == status
    assert err == "reference-rnn check: could not write the report to stdout: Broken pipe\n"
    # `| head -c 10`: the status is the verdict's, whichever comes first
    shell = subprocess.run(
        [
            "bash",
            "-c",
            '"$0" "$@" | head -c 10; exit "${PIPESTATUS[0]}"',
            str(SCRIPT),
            "check",
            target,
            "--api",
            api,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert shell.returncode == status
    assert len(shell.stdout) == 10
    assert shell.stderr in ("", err)


def test_a_usage_error_with_stdout_closed_is_still_exit_2():
    result = subprocess.run(
        [
            "sh",
            "-c",
            '"$0" "$@" >&-',
            str(SCRIPT),
            "check",
            "missing.py",
            "--api",
            "cs231n",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr == (
        "reference-rnn check: error: no file missing.py\n"
        "reference-rnn check: could not write the report to stdout: stdout is closed\n"
    )


# -- 6. the checker's own imports never come from the working folder ---------------------------------

IMPOSTORS = {
    "reference_rnn.py": f"print({FORGED!r})\nraise SystemExit(0)\n",
    "numpy.py": "raise SystemExit('numpy.py of the working folder imported')\n",
    "json.py": "raise SystemExit('json.py of the working folder imported')\n",
    "tempfile.py": "raise SystemExit('tempfile.py of the working folder imported')\n",
    "select.py": "raise SystemExit('select.py of the working folder imported')\n",
}


@pytest.fixture
def grading_folder(tmp_path: Path) -> Path:
    """A submission folder: the student's correct code and files named as the checker's imports."""
    for name, source in IMPOSTORS.items():
        (tmp_path / name).write_text(source)
    shutil.copy(CORRECT, tmp_path / "student.py")
    return tmp_path


def _passed(result: subprocess.CompletedProcess[str], target: str) -> None:
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.split("\n")
    assert lines[0].startswith(f"{target} as cs231n, float64: error = max|actual - expected|")
    assert lines[-2:] == [FORGED, ""]


@pytest.mark.parametrize("target", ["student.py", "student"])
def test_the_console_script_in_a_folder_of_impostors_runs_the_real_checker(grading_folder, target):
    _passed(run("check", target, "--api", "cs231n", cwd=grading_folder), target)


@pytest.mark.parametrize("target", ["student.py", "student"])
def test_python_dash_p_dash_m_in_a_folder_of_impostors_runs_the_real_checker(
    grading_folder, target
):
    command = [sys.executable, "-P", "-m", "reference_rnn", "check", target, "--api", "cs231n"]
    result = subprocess.run(
        command, capture_output=True, text=True, cwd=grading_folder, timeout=300, check=False
    )
    _passed(result, target)


def test_plain_python_dash_m_runs_the_working_folder_s_reference_rnn_py(grading_folder):
    # Python's own rule, before any of the package's code runs: why the docs say -P, or the script
    command = [sys.executable, "-m", "reference_rnn", "check", "student.py", "--api", "cs231n"]
    # not measured: coverage would take the impostor for the package's own reference_rnn
    env = {name: value for name, value in os.environ.items() if not name.startswith("COVERAGE")}
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        cwd=grading_folder,
        timeout=300,
        check=False,
        env=env,
    )
    assert result.returncode == 0
    assert result.stdout == f"{FORGED}\n"  # not the checker's report: the impostor's line


def test_the_writers_say_one_line_or_nothing_whatever_the_standard_files_are(monkeypatch, capsys):
    quieted: list[bool] = []
    monkeypatch.setattr(printing, "_quiet_stdout", lambda: quieted.append(True))
    closed = io.StringIO()
    closed.close()
    monkeypatch.setattr(sys, "stdout", closed)
    assert printing.write_stdout("report\n", "reference-rnn check") is False
    assert quieted == [True]
    assert capsys.readouterr().err == (
        "reference-rnn check: could not write the report to stdout: I/O operation on closed file\n"
    )
    monkeypatch.setattr(sys, "stderr", closed)
    printing.say("nobody hears this")  # a closed stderr: nothing, and no error
    monkeypatch.setattr(sys, "stderr", None)
    printing.say("nor this")
