"""The checker's side of the worker process, piece by piece: what it takes of a reply, and how.

tests/test_check_sealed.py runs hostile code end to end; here each rule is tried on its own,
mostly without a process: a message on the channel, a reply to a call, a worker that answers
from a script, the TARGET a class or module is found again under.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import struct
import subprocess
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from processes import call_limit

from reference_rnn import testing
from reference_rnn.checker import process, remote, sandbox
from reference_rnn.checker import process as channel
from reference_rnn.checker.apis import SPECS, plan
from reference_rnn.checker.apis.calling import Observation
from reference_rnn.checker.apis.spec import OutputSpec, RunnerSpec
from reference_rnn.checker.battery import Case, make_case
from reference_rnn.checker.runner import Check, Report
from reference_rnn.checker.target import load_target, locate

EXAMPLES = Path(__file__).parents[1] / "examples"
CASE = make_case("one", 2, 3, 4, 5, seed=1)


# -- the channel -----------------------------------------------------------------------------------


def read_from(data: bytes):
    stream = io.BytesIO(data)

    def read(n: int) -> bytes:
        chunk = stream.read(n)
        if len(chunk) < n:
            raise EOFError
        return chunk

    return read


def frame(data: bytes) -> bytes:
    return struct.pack("<I", len(data)) + data


def test_a_message_goes_through_the_channel_as_it_was():
    arrays = [CASE.x, CASE.h0.astype(np.float32)]
    header, back = channel.decode(read_from(channel.encode({"op": "x"}, arrays)), 1 << 20)
    assert header == {"op": "x", "arrays": 2}
    for sent, received in zip(arrays, back, strict=True):
        assert received.dtype == sent.dtype
        np.testing.assert_array_equal(received, sent)


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (frame(b"[1, 2]"), "its header is not an object with a number of arrays"),
        (frame(b'{"arrays": 65}'), "its header is not an object with a number of arrays"),
        (frame(b'{"arrays": -1}'), "its header is not an object with a number of arrays"),
        (frame(b"[" * 900), "its header is not JSON"),  # too deep for the interpreter
        (frame(b'{"arrays": 0}' + b" " * 2000), "it is longer than the checker allows"),
        (frame(b'{"arrays": 1}') + frame(b"not an array"), "an array in it is not a .npy file"),
        (frame(b'{"arrays": 1}') + frame(npy(np.arange(3))), "an array in it is not a .npy file"),
        (
            frame(b'{"arrays": 1}') + frame(npy(np.array([object()], dtype=object))),
            "an array in it is not a .npy file",
        ),
    ],
    ids=["a list", "too many arrays", "minus one", "too deep", "too long", "junk", "int", "object"],
)
def test_a_message_not_in_the_format_is_refused(data, message):
    with pytest.raises(channel.ChannelError, match=message):
        channel.decode(read_from(data), 1000)


def test_a_message_cut_short_is_the_end_of_the_channel():
    with pytest.raises(EOFError):
        channel.decode(read_from(channel.encode({"op": "x"})[:-1]), 1000)


# -- the worker process ----------------------------------------------------------------------------


def test_how_a_worker_ended_in_words():
    assert process.exit_reason(3) == (
        "the worker process exited with status 3 (os._exit, or a fatal error)"
    )
    assert process.exit_reason(-signal.SIGTERM) == "the worker process was killed by SIGTERM"
    assert process.exit_reason(-200) == "the worker process was killed by signal 200"


def test_a_request_to_a_worker_that_is_gone_says_how_it_ended(tmp_path):
    capture = os.open(tmp_path / "output", os.O_WRONLY | os.O_CREAT)
    worker = process.WorkerProcess(capture, 0)
    header, _ = worker.receive(time.monotonic() + 60, 1000)
    assert header == {"op": "ready", "arrays": 0}
    pid = worker.process.pid
    os.killpg(pid, signal.SIGKILL)
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)  # ended, not reaped
    with pytest.raises(process.WorkerLostError, match="killed by SIGKILL"):
        worker.send(channel.encode({"op": "load"}), time.monotonic() + 10)
    worker.stop()
    worker.stop()  # once is enough
    os.close(capture)


def test_a_worker_that_ended_keeps_its_pid_until_stopped_so_no_signal_reaches_another(tmp_path):
    # On a busy machine PIDs wrap in minutes (pid_max 32768): a PID the checker had reaped and then
    # signalled was once another checker's fresh worker ("killed by SIGTERM" at its load).
    capture = os.open(tmp_path / "output", os.O_WRONLY | os.O_CREAT)
    worker = process.WorkerProcess(capture, 0)
    worker.receive(time.monotonic() + 60, 1000)
    pid = worker.process.pid
    os.killpg(pid, signal.SIGKILL)
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
    with pytest.raises(process.WorkerLostError, match="killed by SIGKILL"):
        worker.send(channel.encode({"op": "load"}), time.monotonic() + 10)
    state = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
    assert state == b"Z"  # told how it ended, and still holding its PID
    started = []
    if (
        os.geteuid() == 0
    ):  # a process started where the PIDs are next handed out: not at the worker's
        Path("/proc/sys/kernel/ns_last_pid").write_text(str(pid - 1))
        started.append(subprocess.Popen(["sleep", "60"], start_new_session=True))
        assert started[0].pid != pid
    worker.stop()
    assert [each.poll() for each in started] == [None] * len(started)  # no signal reached it
    for each in started:
        each.kill()
        each.wait()
    os.close(capture)


# -- what is taken of a reply ---------------------------------------------------------------------


def _unbound(runner: RunnerSpec, backward: bool) -> Callable[[Case], Observation]:
    return lambda case: remote.failed(case, runner.returns(backward), "not called")


def test_the_plan_is_made_here_from_the_worker_s_facts():
    facts = {"name": "Layer\x1b[2J", "callable": True, "has": ["forward", "__class__"]}
    layer = remote.facts(SPECS["sprint"], facts)
    assert layer.name == "Layer\\x1b[2J"  # printable, and the API's names only
    assert layer.has == {"forward"}
    how = SPECS["sprint"].plan(layer, _unbound)
    assert how.notes == ["forward only: Layer\\x1b[2J has no backward"]
    [runner] = how.runners
    failed = runner.run(CASE)  # what a call that failed at once has: the spec says
    assert [o.name for o in failed.outputs] == ["h"]
    module = remote.facts(SPECS["cs231n"], {"name": "m", "callable": False, "has": ["rnn_forward"]})
    missing = ["rnn_step_forward", "rnn_backward"]  # the exercise asks for a backward
    assert SPECS["cs231n"].plan(module, _unbound).missing == missing
    assert SPECS["cs231n"].plan(module, _unbound, forward_only=True).missing == missing[:1]


@pytest.mark.parametrize(
    ("facts", "message"),
    [
        (None, "no description of TARGET"),
        ({"name": 1, "callable": True, "has": []}, "an unreadable description of TARGET"),
        ({"name": "L", "callable": "yes", "has": []}, "an unreadable description of TARGET"),
        ({"name": "L", "callable": True, "has": "forward"}, "an unreadable description of TARGET"),
    ],
)
def test_an_unreadable_description_of_the_target_is_refused(facts, message):
    with pytest.raises(process.WorkerLostError, match=message):
        remote.facts(SPECS["sprint"], facts)


def returns(api: str = "cs231n") -> tuple[OutputSpec, ...]:
    return SPECS[api].runners[-1].returns(True)


def reply(*outputs: dict) -> dict:
    return {"op": "observation", "seq": 1, "outputs": list(outputs)}


def item(key: str, name: str | None = None, value=None, problem=None) -> dict:
    return {"key": key, "name": key if name is None else name, "value": value, "problem": problem}


ALL = [item(key) for key in ("h", "dx", "dh0", "dWx", "dWh", "db")]


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ({"outputs": "h"}, "a reply without outputs"),
        ({"outputs": ["h"]}, "a reply without outputs"),
        (reply(item("h"), item("h")), "an unreadable or repeated output"),
        (reply({"key": "h", "name": 1}), "an unreadable or repeated output"),
        (reply({"key": ["h"], "name": "h"}), "an unreadable or repeated output"),
        (reply(item("db", "h")), "h as db, which the API has not"),
        (reply(item("h_last", "h")), "h as h_last, which the API has not"),
        (reply(*ALL, item("dx", "extra")), "extra as dx, which the API has not"),
        (reply(*ALL[:3]), "no dWh, dWx, db"),
        (reply(item("h", value=0), *ALL[1:]), "an unreadable value of h"),
        (reply(item("h", value=True), *ALL[1:]), "an unreadable value of h"),
        (reply(item("h", problem=1), *ALL[1:]), "an unreadable problem of h"),
    ],
)
def test_a_reply_is_taken_only_as_the_api_defines_it(header, message):
    with pytest.raises(process.WorkerLostError, match=message):
        remote.observation(CASE, returns(), header, [])


def test_a_value_is_checked_here_whatever_the_worker_says_of_it():
    h = CASE.expected["h"]
    values = [h, h[:, :1], np.full_like(h[:, 0], np.nan), h]
    header = reply(
        item("h", value=0),
        item("dx", value=1),  # no problem, says the worker, but the shape is not dx's
        item("dh0", value=2),  # nor is NaN
        item("dWx"),  # nor is nothing
        item("dWh", value=3, problem="\x1b[31mtold\nin two lines"),
        item("db", problem="x" * 5000),
    )
    observation = remote.observation(CASE, returns(), header, values)
    assert observation.case is CASE
    outputs = {o.name: o for o in observation.outputs}
    assert outputs["h"].problem is None
    np.testing.assert_array_equal(outputs["h"].value, h)
    assert outputs["dx"].problem == "dx came back as shape (2, 1, 5), expected shape (2, 3, 4)"
    assert outputs["dh0"].problem == "dh0 has NaN or inf"
    assert outputs["dWx"].problem == "dWx came back as nothing, expected shape (4, 5)"
    assert outputs["dWh"].problem == "\\x1b[31mtold\\nin two lines"
    assert outputs["dWh"].value is not None  # a value with a problem is kept, for the diagnosis
    assert outputs["db"].problem == "x" * 1997 + "..."


def test_which_upstream_gradient_a_value_answers_is_decided_here():
    # a layer that returns its final state: the loss sees that state only, whatever else is sent
    last = CASE.expected["h"][:, -1]
    names = [item("h_last", "h", value=0), *(item(k) for k in ("dx", "dWx", "dWh", "db"))]
    names.append(item("dh0", "dh_prev"))  # an output the API may have
    observation = remote.observation(CASE, returns("sprint"), reply(*names), [last])
    np.testing.assert_array_equal(observation.case.dh[:, :-1], 0)
    np.testing.assert_array_equal(observation.case.dh[:, -1], CASE.dh[:, -1])
    assert observation.outputs[0].problem is None
    assert [o.name for o in observation.outputs][-1] == "dh_prev"


def test_the_output_shown_is_its_first_lines_printable(tmp_path):
    path = tmp_path / "output"
    path.write_bytes(b"\n".join([b"a\tb\r", b"\xff" + b"y" * 300, *(b"%d" % i for i in range(30))]))
    lines = remote.output_lines(path)
    assert lines[0] == "a   b"
    assert lines[1] == "\ufffd" + "y" * 196 + "..."
    assert lines[2:20] == [str(i) for i in range(18)]
    assert lines[20] == f"[{path.stat().st_size} bytes in all: only the first 20 lines are shown]"
    path.write_bytes(b"one line\n")
    assert remote.output_lines(path) == ["one line"]


def test_the_text_report_shows_what_the_code_printed_under_its_own_heading():
    check = Check("one/h", True, 0.0, 1e-12)
    report = Report("cs231n", "m", "float64", [check], [], output=["PASSED: made up"])
    lines = report.format().splitlines()
    assert lines[-4:] == [
        "Printed by the checked code (stdout and stderr, first lines):",
        "  | PASSED: made up",
        "",
        "PASSED: 1 of 1 checks passed; mistakes: none",
    ]
    assert report.to_json()["output"] == ["PASSED: made up"]


# -- the sandbox, with a worker that answers from a script ---------------------------------------


class Scripted:
    """A worker process whose replies are the next of its script's, in order."""

    scripts: ClassVar[list[list[object]]] = []

    def __init__(self, _capture: int, _memory: int) -> None:
        self.replies = Scripted.scripts.pop(0)

    def send(self, data: bytes, deadline: float) -> None:
        assert data
        assert deadline

    def receive(self, _deadline: float, _limit: int):
        answer = self.replies.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer, []

    def stop(self, *, at_once: bool = False) -> None:
        pass


READY = {"op": "ready"}
FACTS = {"name": "m", "callable": False, "has": ["rnn_forward", "rnn_backward"]}
LOADED = {"op": "loaded", "facts": FACTS}
ONE, TWO = make_case("one", 1, 3, 4, 5, seed=1), make_case("two", 1, 2, 4, 5, seed=2)


def scripted_check(monkeypatch, *scripts: list[object]) -> Report:
    """check_target with workers that follow ``scripts``, one each, on two cases of one sequence."""
    monkeypatch.setattr(sandbox, "WorkerProcess", Scripted)
    monkeypatch.setattr(Scripted, "scripts", list(scripts))
    return sandbox.check_target("m", api="cs231n", cases=[ONE, TWO])


@pytest.mark.parametrize(
    ("script", "detail"),
    [
        ([{"op": "hello"}], "loading m: the worker process did not start"),
        (
            [READY, {"op": "?"}],
            "loading m: the worker process sent back a reply to another request",
        ),
        ([READY, {"op": "load-failed", "error": "it raised"}], "it raised"),
        ([READY, {"op": "error", "error": "ValueError: x"}], "ValueError: x"),
    ],
)
def test_a_worker_that_does_not_load_the_code_fails_the_load(monkeypatch, script, detail):
    report = scripted_check(monkeypatch, script)
    assert [(c.name, c.detail) for c in report.checks] == [("load: TARGET", detail)]


def test_a_target_the_worker_does_not_find_is_not_found(monkeypatch):
    with pytest.raises(LookupError, match=r"^no module 'm'$"):
        scripted_check(monkeypatch, [READY, {"op": "not-found", "error": "no module 'm'"}])


KILLED = "the worker process was killed by SIGKILL"
FRESH = "a fresh worker"


@pytest.mark.parametrize(
    ("restart", "reason"),
    [
        (
            [READY, {"op": "load-failed", "error": "it raised"}],
            f"{FRESH} could not load the code: it raised",
        ),
        ([READY, {"op": "not-found", "error": "gone"}], f"{FRESH} could not load the code: gone"),
        ([READY, TimeoutError()], f"{FRESH} did not load the code within 10 s"),
        (
            [READY, {"op": "loaded", "facts": {**FACTS, "has": []}}],
            f"{FRESH} found other functions in the code",
        ),
    ],
    ids=["raises", "not found", "hangs", "other functions"],
)
def test_a_fresh_worker_must_load_the_same_code(monkeypatch, restart, reason):
    lost = process.WorkerLostError(KILLED)
    report = scripted_check(monkeypatch, [READY, LOADED, lost], restart)
    assert {c.name: c.detail for c in report.checks} == {
        "rnn_step_forward: exists": "m has no rnn_step_forward",
        **{
            f"rnn_forward: h of case {case}": why
            for case, why in (("one", KILLED), ("two", reason))
        },
        **{
            f"rnn_backward: {value} of case {case}": why
            for case, why in (("one", KILLED), ("two", reason))
            for value in ("dx", "dh0", "dWx", "dWh", "db")
        },
    }


def test_a_worker_that_cannot_start_leaves_nothing_behind(monkeypatch, tmp_path):
    def cannot(capture: int, memory: int) -> None:
        raise OSError("no more processes")

    monkeypatch.setattr(sandbox, "WorkerProcess", cannot)
    monkeypatch.setattr(sandbox.tempfile, "tempdir", str(tmp_path))
    with pytest.raises(OSError, match="no more processes"):
        sandbox.check_target("m", api="cs231n")
    assert list(tmp_path.iterdir()) == []


# -- finding a class or module again, in a worker --------------------------------------------------


def make_layer() -> type:
    class Layer:
        pass

    return Layer


def test_a_class_or_module_is_found_again_by_its_name_or_its_file():
    assert locate(json) == "json"
    assert locate(testing) == "reference_rnn.testing"
    path = EXAMPLES / "dlfs2_time_rnn.py"
    module = load_target(str(path))
    assert locate(module) == str(path.resolve())
    assert locate(module.TimeRNN) == f"{path.resolve()}:TimeRNN"
    assert locate(Report) == "reference_rnn.checker.runner:Report"
    main = types.ModuleType("__main__")
    main.__file__ = str(path)
    assert locate(main) == str(path.resolve())


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        (
            make_layer(),
            (
                "cannot import make_layer.<locals>.Layer from test_check_isolation: it is not a "
                "name of its module (made in a function?)"
            ),
        ),
        (make_layer()(), "cannot import <test_check_isolation.make_layer.<locals>.Layer object"),
        (
            types.ModuleType("ghost"),
            "cannot import the module ghost: it has no file and no importable name",
        ),
        (
            type("Nowhere", (), {"__module__": "not_loaded"}),
            "cannot import <class 'not_loaded.Nowhere'>",
        ),
    ],
    ids=["a class made in a function", "an instance", "a module made in code", "no module"],
)
def test_what_a_worker_cannot_import_is_refused_before_it_starts(obj, message):
    refused = "^" + re.escape(f"a worker process {message}")
    with pytest.raises(ValueError, match=refused):
        locate(obj)
    with pytest.raises(ValueError, match=refused):
        testing.check(obj, api="sprint")


def test_the_python_api_checks_in_a_worker_by_default(tmp_path):
    path = tmp_path / "exits.py"
    path.write_text(
        (EXAMPLES / "cs231n_rnn_layers.py").read_text()
        + "\n\ndef rnn_forward(x, h0, Wx, Wh, b):\n    raise SystemExit(3)\n"
    )
    module = load_target(str(path))  # this process imports it, the worker calls it
    # a limit of its own, passed through (the call ends at once): measured, not a constant
    report = testing.check(module, api="cs231n", cases=[ONE], timeout=call_limit(), memory_limit=0)
    assert report.target == "_checked_exits"
    line = path.read_text().splitlines().index("    raise SystemExit(3)") + 1
    assert {c.detail for c in report.checks if not c.passed} == {
        f"rnn_forward raised SystemExit: 3 (at exits.py:{line}: raise SystemExit(3))",
        "not run: rnn_forward failed",
    }
    assert testing.check(str(path), api="cs231n", cases=[ONE]).target == str(path)
    with pytest.raises(SystemExit):  # in this process, it ends what called it: never for grading
        testing.check(str(path), api="cs231n", cases=[ONE], isolate=False)


@pytest.mark.parametrize(
    ("target", "api", "checks"),
    [
        ("corrected_simple_rnn.py:SimpleRNN", "sprint", 60),
        ("dlfs2_time_rnn.py:TimeRNN", "dlfs2", 66),
        ("dlfs2_time_rnn.py:RNN", "dlfs2-cell", 60),
    ],
)
def test_every_api_is_checked_in_a_worker(target, api, checks):
    # cs231n's example: tests/test_check_cli.py and tests/test_check_sealed.py
    report = testing.check(str(EXAMPLES / target), api=api)
    assert report.passed, report.format()
    assert len(report.checks) == checks  # with dlfs2's case in two blocks, through set_state


def test_plan_refuses_an_unknown_api():
    with pytest.raises(
        ValueError,
        match="api must be one of cs231n, cs231n-torch, coursera, d2l, dlfs2, dlfs2-cell, sprint",
    ):
        plan("keras", None)
