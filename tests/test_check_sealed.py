"""``check`` as a sealed grader: hostile code under test, each case a module, run, its outcome exact.

Each module is the correct CS231n-style example (examples/cs231n_rnn_layers.py) with one change,
checked by ``python -m reference_rnn check MODULE --api cs231n --json`` in this process, whose
stdout must hold exactly one JSON document (capfd sees every byte written to file descriptor 1).
The step functions' ten cases run first (60 checks), then ``rnn_forward``'s (60); the change is in
``rnn_forward`` or at import. A change made "once" happens at the first call only (the case
``sample``): a fresh worker runs the rest.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from processes import HOLD, call_limit, held

from reference_rnn import testing
from reference_rnn.checker import battery
from reference_rnn.checker.printing import check_title
from reference_rnn.cli import main

EXAMPLES = Path(__file__).parents[1] / "examples"
CORRECT = (EXAMPLES / "cs231n_rnn_layers.py").read_text()
FORWARD = """

_correct_rnn_forward = rnn_forward


def rnn_forward(x, h0, Wx, Wh, b):
{change}
    return _correct_rnn_forward(x, h0, Wx, Wh, b)
"""
ONCE = '''

def first_call():
    """True once: a file beside this one remembers, across worker processes."""
    import os

    if os.path.exists(__file__ + ".called"):
        return False
    open(__file__ + ".called", "w").close()
    return True
'''
#: the checks of a sequence case, in order
VALUES = ("h", "dx", "dh0", "dWx", "dWh", "db")
CASES = [case.name for case in battery.battery()]


def hostile(tmp_path: Path, *, at_import: str = "", in_forward: str = "", once: bool = False):
    """The correct module, with ``at_import`` after its code and ``in_forward`` in rnn_forward."""
    source = CORRECT
    if once:
        source += ONCE
        in_forward = "if first_call():\n" + textwrap.indent(textwrap.dedent(in_forward), "    ")
    if in_forward:
        change = textwrap.indent(textwrap.dedent(in_forward).strip(), "    ")
        source += FORWARD.format(change=change)
    source += "\n" + textwrap.dedent(at_import).strip() + "\n"
    path = tmp_path / "hostile.py"
    path.write_text(source)
    return path


def at(path: Path, statement: str) -> str:
    """``file.py:line: statement``, as a reason shows where the code raised."""
    lines = path.read_text().splitlines()
    number = next(i for i, line in enumerate(lines, 1) if line.strip() == statement)
    return f"{path.name}:{number}: {statement}"


def check(capfd, target, *options: str) -> tuple[int, dict]:
    code = main(["check", str(target), "--api", "cs231n", "--json", "--seed", "0", *options])
    return code, json.loads(capfd.readouterr().out)  # exactly one document, or this fails


def failures(document: dict) -> dict[str, list[str]]:
    """Each reason a check failed, with the checks that failed for it."""
    found: dict[str, list[str]] = {}
    for item in document["checks"]:
        if not item["passed"]:
            found.setdefault(item["detail"], []).append(item["name"])
    return found


def sequence_checks(cases=CASES, values=VALUES) -> list[str]:
    return [
        check_title("rnn_forward" if value == "h" else "rnn_backward", value, case)
        for case in cases
        for value in values
    ]


# -- the code raises in every call: a failed check, with what and where ----------------------------

RAISES = {
    "SystemExit(0)": ("raise SystemExit(0)", "", "SystemExit: 0"),
    "sys.exit()": ("import sys\nsys.exit()", "", "SystemExit"),
    "exit()": ("exit()", "", "SystemExit: None"),
    "KeyboardInterrupt": ("raise KeyboardInterrupt", "", "KeyboardInterrupt"),
    "an exception whose str and repr raise": (
        "raise Unprintable()",
        """
        class Unprintable(Exception):
            def __str__(self):
                raise ValueError("no")

            __repr__ = __str__
        """,
        "Unprintable: (its message cannot be printed: str() raised)",
    ),
    "RecursionError": (
        "deep(0)",
        "def deep(n):\n    return deep(n + 1)",
        "RecursionError: maximum recursion depth exceeded",
    ),
}


@pytest.mark.parametrize(("change", "at_import", "raised"), RAISES.values(), ids=RAISES)
def test_what_the_code_raises_in_a_call_is_a_failed_check(
    tmp_path, capfd, change, at_import, raised
):
    path = hostile(tmp_path, at_import=at_import, in_forward=change)
    code, document = check(capfd, path)
    assert (code, document["passed"]) == (1, False)
    statement = "return deep(n + 1)" if "deep" in change else change.splitlines()[-1]
    assert failures(document) == {
        f"rnn_forward raised {raised} (at {at(path, statement)})": sequence_checks(values=["h"]),
        "not run: rnn_forward failed": sequence_checks(values=VALUES[1:]),
    }
    assert sum(item["passed"] for item in document["checks"]) == 60  # the step functions'


def test_memory_past_the_limit_is_a_memory_error(tmp_path, capfd):
    path = hostile(tmp_path, in_forward="import numpy as np\nnp.ones(50_000_000)")  # 400 MB
    code, document = check(capfd, path, "--memory-limit", "200")
    assert (code, document["passed"]) == (1, False)
    raised = (
        "rnn_forward raised MemoryError: Unable to allocate 381. MiB for an array with shape "
        f"(50000000,) and data type float64 (at {at(path, 'np.ones(50_000_000)')})"
    )
    assert failures(document) == {
        raised: sequence_checks(values=["h"]),
        "not run: rnn_forward failed": sequence_checks(values=VALUES[1:]),
    }


# -- the code ends, kills or hangs its process: that call fails, a fresh worker runs the rest ------

SEGFAULT = "the worker process was killed by SIGSEGV (a crash in compiled code)"
LOST = {
    "os._exit(0)": (
        "import os\nos._exit(0)",
        "",
        "the worker process exited with status 0 (os._exit, or a fatal error)",
    ),
    "SIGKILL": (
        "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)",
        "",
        (
            "the worker process was killed by SIGKILL "
            "(killed from outside, or by the system when memory ran out)"
        ),
    ),
    "SIGSEGV in compiled code": ("import ctypes\nctypes.string_at(0)", "", SEGFAULT),
    "SIGABRT": (
        "import os\nos.abort()",
        "",
        "the worker process was killed by SIGABRT (abort(), or a failed assertion in compiled code)",
    ),
    "while True: pass": ("while True:\n    pass", "", "did not return within {limit:g} s: stopped"),
    "an __array__ that loops": (
        "return Endless(), None",
        """
        class Endless:
            def __array__(self, dtype=None, copy=None):
                while True:
                    pass
        """,
        "did not return within {limit:g} s: stopped",
    ),
}
#: the first lines of what faulthandler prints to the captured stderr
FATAL = {"SIGSEGV in compiled code": "Segmentation fault", "SIGABRT": "Aborted"}


@pytest.mark.parametrize(("change", "at_import", "reason"), LOST.values(), ids=LOST)
def test_a_call_that_ends_or_hangs_the_worker_fails_and_the_rest_run(
    request, tmp_path, capfd, change, at_import, reason
):
    path = hostile(tmp_path, at_import=at_import, in_forward=change, once=True)
    code, document = check(capfd, path, "--timeout", str(call_limit()))
    assert (code, document["passed"]) == (1, False)
    reason = reason.format(limit=call_limit())
    assert failures(document) == {reason: sequence_checks(["sample"])}
    assert len(document["checks"]) == 120
    fatal = FATAL.get(request.node.callspec.id)
    if fatal:  # with where the code was, for the person who reads the report
        assert document["output"][:2] == [f"Fatal Python error: {fatal}", ""]
        line = at(path, change.splitlines()[-1]).split(":")[1]
        assert f'  File "{path}", line {line} in rnn_forward' in document["output"]
    else:
        assert document["output"] == []


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("import os\nos._exit(0)", LOST["os._exit(0)"][2]),
        ("import time\ntime.sleep(3600)", "did not return within {limit:g} s: stopped"),
    ],
    ids=["os._exit(0)", "time.sleep(3600)"],
)
def test_code_that_crashes_or_hangs_every_call_costs_three_restarts(
    tmp_path, capfd, change, reason
):
    path = hostile(tmp_path, in_forward=change)
    code, document = check(capfd, path, "--timeout", str(call_limit()))
    assert (code, document["passed"]) == (1, False)
    reason = reason.format(limit=call_limit())
    assert failures(document) == {
        reason: sequence_checks(CASES[:3]),
        f"not run: 3 earlier calls crashed or hung the worker (the last: {reason})": (
            sequence_checks(CASES[3:])
        ),
    }


def test_a_worker_s_slow_start_and_restart_do_not_count_against_the_timeout(
    tmp_path, capfd, monkeypatch
):
    # every interpreter here starts slowly (a slow disk, a loaded machine): three timeouts long
    slow = tmp_path / "slow"
    slow.mkdir()
    (slow / "sitecustomize.py").write_text(f"import time\ntime.sleep({3 * call_limit()})\n")
    monkeypatch.setenv("PYTHONPATH", str(slow))
    path = hostile(tmp_path, in_forward="import os\nos._exit(0)", once=True)
    code, document = check(capfd, path, "--timeout", str(call_limit()))
    # the first worker's start, then the restart after the exit: the rest passes
    assert (code, document["passed"]) == (1, False)
    assert failures(document) == {LOST["os._exit(0)"][2]: sequence_checks(["sample"])}


def test_a_value_that_breaks_the_checker_reading_it_fails_that_call(tmp_path, capfd):
    untold = """
        class Untold(tuple):
            def __len__(self):
                raise RuntimeError("no length")
    """
    path = hostile(tmp_path, at_import=untold, in_forward="return Untold()")
    code, document = check(capfd, path)
    assert (code, document["passed"]) == (1, False)
    where = at(path, 'raise RuntimeError("no length")')
    assert failures(document) == {
        f"the call ended with RuntimeError: no length (at {where})": sequence_checks()
    }


# -- loading: whatever goes wrong is the one failed check load: TARGET, with the file and line ------

LOAD = {
    "SystemExit at import": (
        "raise SystemExit(0)",
        "loading {path} raised SystemExit: 0 (at {at})",
    ),
    "os._exit at import": (
        "import os\nos._exit(0)",
        "loading {path}: the worker process exited with status 0 (os._exit, or a fatal error)",
    ),
    "a hang at import": (
        "import time\ntime.sleep(3600)",
        "loading {path} did not finish within {limit:g} s: stopped",
    ),
    "a syntax error": (
        "def broken(:\n    pass",
        "loading {path} raised SyntaxError: invalid syntax (hostile.py, line {line})",
    ),
    "a missing module": (
        "import not_a_module_anywhere",
        "loading {path} raised ModuleNotFoundError: No module named 'not_a_module_anywhere' (at {at})",
    ),
    "a module __getattr__ that raises": (
        "del rnn_step_backward\n\ndef __getattr__(name):\n    raise RuntimeError(f'no {name} here')",
        "reading rnn_step_backward raised RuntimeError: no rnn_step_backward here (at {at})",
    ),
}


@pytest.mark.parametrize(("at_import", "reason"), LOAD.values(), ids=LOAD)
def test_code_that_cannot_be_loaded_is_the_failed_check_load(tmp_path, capfd, at_import, reason):
    path = hostile(tmp_path, at_import=at_import)
    code, document = check(capfd, path, "--timeout", str(call_limit()))
    assert (code, document["passed"]) == (1, False)
    last = at_import.splitlines()[-1].strip()
    line = path.read_text().splitlines().index(at_import.splitlines()[0]) + 1
    expected = reason.format(path=path, at=at(path, last), line=line, limit=call_limit())
    assert [(c["name"], c["detail"]) for c in document["checks"]] == [("load: TARGET", expected)]
    assert document["diagnoses"] == []


@pytest.mark.parametrize(
    ("init", "raised"),
    [
        (
            "raise RuntimeError('the package is broken')",
            "RuntimeError: the package is broken",
        ),
        ("import missing_dependency", "ModuleNotFoundError: No module named 'missing_dependency'"),
    ],
    ids=["raises", "imports what is missing"],
)
def test_a_package_whose_init_raises_fails_to_load(tmp_path, capfd, monkeypatch, init, raised):
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "__init__.py").write_text(init + "\n")
    (tmp_path / "broken" / "layers.py").write_text(CORRECT)
    monkeypatch.syspath_prepend(tmp_path)  # the worker imports what this process can
    code, document = check(capfd, "broken.layers")
    assert code == 1
    assert [c["detail"] for c in document["checks"]] == [
        f"import broken.layers raised {raised} (at __init__.py:1: {init})"
    ]


# -- harmless at import, for the checker: correct code passes --------------------------------------


@pytest.mark.parametrize(
    "at_import",
    [
        "import os\nos.chdir('/')",
        "import sys\nsys.setrecursionlimit(60)",
        "import os, sys\nsys.path.remove(os.path.dirname(os.path.realpath(__file__)))",
    ],
    ids=["chdir", "setrecursionlimit", "its folder off sys.path"],
)
def test_correct_code_that_changes_the_interpreter_at_import_passes(tmp_path, capfd, at_import):
    code, document = check(capfd, hostile(tmp_path, at_import=at_import), "--memory-limit", "0")
    assert (code, document["passed"], len(document["checks"])) == (0, True, 120)


PRINTS = """
import ctypes, os, sys, threading, time
import noisy

print("print at import")
os.write(1, b"os.write(1, ...) at import\\n")
os.write(2, b"os.write(2, ...) at import\\n")
ctypes.CDLL(None).printf(b"printf in C at import\\n")
print("\\x1b[2K\\rPASSED: 120 of 120 checks passed")


def late():
    while threading.main_thread().is_alive():  # until the worker's last request is done
        time.sleep(0.05)
    print("a thread, after the last call")
    time.sleep(3600)  # and it never ends: the worker is killed after a grace period


threading.Thread(target=late).start()
"""


def test_correct_code_that_prints_through_every_channel_passes(tmp_path, capfd, monkeypatch):
    (tmp_path / "noisy.py").write_text("print('a package, printing as it is imported')\n")
    monkeypatch.syspath_prepend(tmp_path)
    change = """
        if x.shape == (4, 6, 3):
            print("print in rnn_forward", x.shape)
            sys.stderr.write("sys.stderr in rnn_forward\\n")
    """
    path = hostile(tmp_path, at_import=PRINTS, in_forward=change)
    code, document = check(capfd, path, "--memory-limit", "0")
    assert (code, document["passed"], len(document["checks"])) == (0, True, 120)
    assert document["output"] == [
        "a package, printing as it is imported",
        "print at import",
        "os.write(1, ...) at import",
        "os.write(2, ...) at import",
        "printf in C at import",
        "\\x1b[2K\\rPASSED: 120 of 120 checks passed",  # one line, its controls escaped
        *["print in rnn_forward (4, 6, 3)", "sys.stderr in rnn_forward"] * 2,  # batch, batch-h0
        "a thread, after the last call",
    ]


# -- fooling the checker -------------------------------------------------------------------------

ZEROS = """
import numpy as np
import reference_rnn.checker.battery as battery


def zeros_forward(x, h0, Wx, Wh, b):
    return np.zeros((*x.shape[:-1], Wx.shape[1])), (x, h0, Wx, Wh)


def zeros_backward(dh, cache):
    x, h0, Wx, Wh = cache
    return np.zeros(x.shape), np.zeros(h0.shape), np.zeros(Wx.shape), np.zeros(Wh.shape), np.zeros(len(Wh))


battery.rnn_forward, battery.rnn_backward = zeros_forward, zeros_backward  # the expected values'
rnn_step_forward = rnn_forward = zeros_forward
rnn_step_backward = rnn_backward = zeros_backward
"""


def test_code_that_replaces_the_reference_with_zeros_fails(tmp_path, capfd, monkeypatch):
    path = hostile(tmp_path, at_import=ZEROS)
    code, document = check(capfd, path)
    assert (code, document["passed"]) == (1, False)
    # the worker refuses the package to the code: loading it fails, and says why
    assert [(c["name"], c["detail"]) for c in document["checks"]] == [
        (
            "load: TARGET",
            (
                f"loading {path} tried to import reference_rnn.checker.battery, which the checked "
                "code may not use"
            ),
        )
    ]
    assert [d["mistake"] for d in document["diagnoses"]] == ["imports-the-reference"]
    # in-process, as isolate=False runs it (never for grading), its module runs in the checker's
    # own process; the expected values no longer come from the battery module's names (the
    # reference imports the core when it computes), so the zeros fail there too
    monkeypatch.setattr(battery, "rnn_forward", None, raising=False)  # taken out after the test
    monkeypatch.setattr(battery, "rnn_backward", None, raising=False)
    report = testing.check(str(path), api="cs231n", isolate=False, seed=0)
    assert not report.passed
    # every check fails by all it is worth, but where the reference's value is zero too
    zero = [
        "rnn_step_backward: dWh of case sample",
        "rnn_step_backward: dWh of case one-step-batch",
        "rnn_step_backward: dWh of case batch",
        "rnn_backward: dWh of case one-step-batch",
    ]
    assert [c.name for c in report.checks if c.passed] == zero
    assert report.looks[0] == (  # 0.761888: torch's first state of the exercise's sample
        "rnn_step_forward: next_h of case sample: first mismatch at [0, 0, 0]: 0 where the reference has 0.761888 "
        "(4 of 4 entries wrong); next_h wrong from its first step, t = 0 (of 1); "
        "next_h is all zeros"
    )


# -- the code speaks on the checker's channel: that call fails, and its worker is replaced ----------

CHANNEL = '''
import json, struct, sys


def to_the_checker(data):
    """Write on the worker's reply pipe: its number is among the worker's arguments."""
    import os

    os.write(int(sys.argv[3]), data)


def message(header):
    body = json.dumps({**header, "arrays": 0}).encode()
    return struct.pack("<I", len(body)) + body


def request():
    """The request the worker is answering, from its frames."""
    frame = sys._getframe()
    while "header" not in frame.f_locals:
        frame = frame.f_back
    return frame.f_locals["header"]
'''

SPEAKS = {
    "bytes that are no message": (
        'to_the_checker(struct.pack("<I", 5) + b"nope!")',
        "the worker process sent back something unreadable: its header is not JSON",
    ),
    "a reply to another request": (
        'to_the_checker(message({"op": "observation", "seq": 0, "outputs": []}))',
        "the worker process sent back a reply to another request",
    ),
    "a reply without the gradients": (
        (
            "outputs = [{'key': 'h', 'name': 'h', 'value': None, 'problem': None}]\n"
            "to_the_checker(message({'op': 'observation', 'seq': request()['seq'], "
            "'outputs': outputs}))"
        ),
        "the worker process sent back no dWh, dWx, db, dh0, dx",
    ),
    "closing the channel": (
        "import os, time\nos.close(int(sys.argv[3]))\ntime.sleep(3600)",
        "the worker process closed the channel to the checker",
    ),
}


@pytest.mark.parametrize(("change", "reason"), SPEAKS.values(), ids=SPEAKS)
def test_code_that_speaks_on_the_channel_fails_that_call(tmp_path, capfd, change, reason):
    path = hostile(tmp_path, at_import=CHANNEL, in_forward=change, once=True)
    code, document = check(capfd, path)
    assert (code, document["passed"]) == (1, False)
    assert failures(document) == {reason: sequence_checks(["sample"])}


def test_a_fake_reply_at_import_fails_the_load(tmp_path, capfd):
    path = hostile(tmp_path, at_import=CHANNEL + '\nto_the_checker(message({"op": "loaded"}))')
    code, document = check(capfd, path)
    assert code == 1
    assert [c["detail"] for c in document["checks"]] == [
        f"loading {path}: the worker process sent back no description of TARGET"
    ]


def test_what_the_code_starts_is_ended_with_it(tmp_path, capfd):
    # a process of its own keeps the channel open: the worker's end is seen all the same
    fork = """
        import os, time
        if os.fork() == 0:
            time.sleep(3600)
        os._exit(7)
    """
    path = hostile(tmp_path, in_forward=HOLD + textwrap.dedent(fork), once=True)
    lock = Path(f"{path}.lock")
    lock.touch(mode=0o644)
    code, document = check(capfd, path)
    assert code == 1
    reason = "the worker process exited with status 7 (os._exit, or a fatal error)"
    assert failures(document) == {reason: sequence_checks(["sample"])}
    assert Path(f"{path}.held").exists()
    assert not held(lock, within=10)


# -- the command's own contract ----------------------------------------------------------------------


def test_a_target_that_is_not_found_is_a_usage_error_in_one_json_document(tmp_path, capfd):
    code, document = check(capfd, tmp_path / "missing.py")
    assert code == 2
    assert document == {
        "passed": False,
        "api": "cs231n",
        "target": str(tmp_path / "missing.py"),
        "dtype": "float64",
        "error": f"no file {tmp_path / 'missing.py'}",
    }


@pytest.mark.parametrize(
    ("options", "error"),
    [
        (
            ["--timeout", "0"],
            "argument --timeout: must be more than 0 and at most 86400 seconds, got 0",
        ),
        (
            ["--memory-limit", "-1"],
            (
                "argument --memory-limit: must be a whole number of megabytes from 0 (no limit) "
                "to 16777216, got -1"
            ),
        ),
        (
            ["--timeout", "soon"],
            "argument --timeout: must be more than 0 and at most 86400 seconds, got soon",
        ),
        (["--unknown"], "unrecognized arguments: --unknown"),
    ],
)
def test_a_command_line_argparse_refuses_is_a_usage_error_in_one_json_document(
    capfd, options, error
):
    with pytest.raises(SystemExit) as exit_info:
        main(["check", "anything.py", "--api", "cs231n", "--json", *options])
    assert exit_info.value.code == 2
    out, err = capfd.readouterr()
    assert json.loads(out) == {"passed": False, "error": error}
    assert err.endswith(f"error: {error}\n")


def test_without_json_a_usage_error_is_argparse_s_own(capfd):
    with pytest.raises(SystemExit) as exit_info:
        main(["check", "anything.py", "--api", "keras"])
    assert exit_info.value.code == 2
    out, err = capfd.readouterr()
    assert out == ""
    assert err.startswith("usage: reference-rnn check [-h]")
    assert err.endswith(
        "error: argument --api: invalid choice: 'keras' (choose from 'cs231n', "
        "'cs231n-torch', 'coursera', 'd2l', 'dlfs2', 'dlfs2-cell', 'sprint')\n"
    )


def test_a_bare_command_line_is_verify_s_and_its_usage_errors_are_json_too(capfd):
    with pytest.raises(SystemExit) as exit_info:
        main(["--unknown", "--json"])
    assert exit_info.value.code == 2
    assert json.loads(capfd.readouterr().out) == {
        "passed": False,
        "error": "unrecognized arguments: --unknown",
    }


def test_ctrl_c_stops_the_checker_and_its_worker_at_once(tmp_path):
    path = hostile(tmp_path, in_forward=HOLD + "import time\ntime.sleep(3600)")
    lock = Path(f"{path}.lock")
    lock.touch(mode=0o644)
    command = [sys.executable, "-m", "reference_rnn", "check", str(path), "--api", "cs231n"]
    checker = subprocess.Popen(
        [*command, "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # as a terminal's foreground process has it: a test run started in the background (as CI
        # may be) hands its children SIGINT ignored, and Python then keeps ignoring it
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509
    )
    ready = Path(f"{path}.held")
    deadline = time.monotonic() + 60
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    interrupted = time.monotonic()
    checker.send_signal(signal.SIGINT)  # as the terminal sends it to its foreground process
    out, err = checker.communicate(timeout=30)
    assert time.monotonic() - interrupted < 5
    assert checker.returncode == 130
    assert out == b""
    assert err.endswith(b"reference-rnn check: interrupted\n")
    assert not held(lock)  # the worker is gone with the checker
