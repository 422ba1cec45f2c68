"""The operating-system boundary, its cgroup and the worker's process, piece by piece, in process.

Every system call that would change the test process (``unshare``, ``mount``, ``prctl``,
``capset``, ``setrlimit``, ``fork``, a cgroup's files) is faked: each test gives the code the
failure or the answer it must handle and checks what it does with it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reference_rnn.checker import boundary, cgroup, process, sandbox


class Os:
    """The ``os`` module as a module sees it, with some functions replaced."""

    def __init__(self, **overrides: Any) -> None:
        self.__dict__.update(overrides)

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)


class Libc:
    """A C library whose calls are recorded and answer ``result`` (by name), 0 otherwise."""

    def __init__(self, **results: int) -> None:
        self.results = results
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def __getattr__(self, name: str) -> Any:
        def call(*arguments: Any) -> int:
            self.calls.append((name, arguments))
            answer = self.results.get(name, 0)
            return answer(*arguments) if callable(answer) else answer

        return call


# boundary


def test_a_failed_call_is_an_os_error_with_what_was_done():
    with pytest.raises(OSError, match="mounting it"):
        boundary._check(-1, "mounting it")
    boundary._check(0, "nothing")


def test_the_checker_is_hardened_on_linux_only(monkeypatch):
    libc = Libc()
    monkeypatch.setattr(boundary, "_libc", lambda: libc)
    monkeypatch.setattr(boundary, "sys", types.SimpleNamespace(platform="darwin"))
    boundary.harden_checker()
    assert libc.calls == []
    monkeypatch.setattr(boundary, "sys", types.SimpleNamespace(platform="linux"))
    boundary.harden_checker()
    assert libc.calls == [("prctl", (boundary._PR_SET_DUMPABLE, 0, 0, 0, 0))]


def test_a_known_user_is_known():
    assert boundary.known_user("root")
    assert boundary.known_user("")
    assert not boundary.known_user("no-such-user-here")


def test_the_spec_without_namespaces_and_as_a_normal_user(monkeypatch):
    monkeypatch.setenv(boundary.NO_NAMESPACES, "1")
    assert boundary.spec(None, ["/x"]) == {"mode": "none"}
    monkeypatch.delenv(boundary.NO_NAMESPACES)
    monkeypatch.setattr(boundary, "os", Os(geteuid=lambda: 1000, getuid=lambda: 1000))
    assert boundary.spec(None, ["/x"])["mode"] == ("user" if sys.platform == "linux" else "none")


def test_mode_none_enters_nothing(monkeypatch):
    monkeypatch.setattr(boundary, "_libc", lambda: pytest.fail("no system call"))
    boundary.enter(json.dumps({"mode": "none"}))


def test_namespaces_that_cannot_be_made_fall_back_to_mode_none(monkeypatch):
    libc = Libc(unshare=-1)
    monkeypatch.setattr(boundary, "_libc", lambda: libc)
    monkeypatch.setenv(boundary._FALLBACK, "")
    boundary.enter(json.dumps({"mode": "user", "uid": 1, "gid": 1, "reach": []}))
    assert json.loads(os.environ[boundary._FALLBACK]) == {"mode": "none"}
    assert [name for name, _ in libc.calls] == ["unshare"]


class _WaitedError(Exception):
    pass


@pytest.mark.parametrize(
    ("forks", "mode"), [([4321], "user"), ([0, 99], "user"), ([0, 0], "user"), ([0, 0], "root")]
)
def test_the_namespaces_are_entered_and_the_three_processes_go_their_ways(monkeypatch, forks, mode):
    libc = Libc()
    done: list[Any] = []
    returns = iter(forks)
    monkeypatch.setattr(boundary, "_libc", lambda: libc)
    monkeypatch.setattr(boundary, "os", Os(fork=lambda: next(returns)))
    monkeypatch.setattr(boundary, "_map", lambda uid, gid: done.append(("map", uid, gid)))
    monkeypatch.setattr(boundary, "_mounts", lambda _libc, _settings: done.append("mounts"))

    def wait_for(pid: int, _statuses: int) -> None:
        done.append(("wait", pid))
        raise _WaitedError

    def init(worker: int, _status: int) -> None:
        done.append(("init", worker))
        raise _WaitedError

    monkeypatch.setattr(boundary, "_wait_for", wait_for)
    monkeypatch.setattr(boundary, "_init", init)
    settings = {"mode": mode, "uid": 7, "gid": 8, "reach": []}
    mapped = [("map", 7, 8)] if mode == "user" else []
    if forks[-1]:  # the waiter, or the namespace's first process
        with pytest.raises(_WaitedError):
            boundary.enter(json.dumps(settings))
        assert done == [*mapped, ("wait", 4321) if len(forks) == 1 else ("init", 99)]
        return
    boundary.enter(json.dumps(settings))  # the worker
    assert done == [*mapped, "mounts"]
    user = 0x10000000 if mode == "user" else 0
    assert libc.calls[0] == ("unshare", (0x00020000 | 0x20000000 | user,))
    assert libc.calls[-1] == ("prctl", (1, signal.SIGKILL, 0, 0, 0))


def test_the_user_namespace_maps_the_user_to_itself(monkeypatch, tmp_path):
    def fake_open(path: str, mode: str = "r") -> Any:
        return open(tmp_path / Path(path).name, mode)  # noqa: PTH123

    monkeypatch.setattr(boundary, "open", fake_open, raising=False)
    boundary._map(12, 34)
    written = {p.name: p.read_text() for p in tmp_path.iterdir()}
    assert written == {"setgroups": "deny", "uid_map": "12 12 1", "gid_map": "34 34 1"}


def _waiter(init: Callable[[int], None], kill: Callable[[int, int, int], None]) -> int:
    """A waiter forked from this test: its namespace's init runs ``init(status)`` (the pipe the
    status goes up), its ``os.kill(target, number)`` is ``kill(init_pid, target, number)``, its end
    is by ``os._exit``."""
    statuses, status = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            child = os.fork()
            if child == 0:
                init(status)
                os._exit(0)
            os.close(status)
            boundary.os = Os(kill=lambda target, number: kill(child, target, number))  # type: ignore[assignment]
            boundary.resource = types.SimpleNamespace(  # type: ignore[assignment]
                setrlimit=lambda *_: None, RLIMIT_CORE=0
            )
            boundary._wait_for(child, statuses)
        finally:
            os._exit(99)
    os.close(statuses)
    os.close(status)
    return pid


@pytest.mark.parametrize("passed_up", [True, False], ids=["by its init", "its init killed"])
def test_the_waiter_dies_by_the_signal_its_worker_died_by(tmp_path, passed_up):
    record = tmp_path / "killed"

    def init(status: int) -> None:  # the worker's status (killed by SIGUSR1) written up, or its own
        if passed_up:
            os.write(status, int(signal.SIGUSR1).to_bytes(4, "little"))
            return
        signal.signal(signal.SIGUSR1, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGUSR1)

    def kill(_init: int, target: int, number: int) -> None:  # its own end faked
        record.write_text(f"{target == os.getpid()} {number}")

    _, code = os.waitpid(_waiter(init, kill), 0)
    assert os.waitstatus_to_exitcode(code) == 1
    assert record.read_text() == f"True {int(signal.SIGUSR1)}"


def test_the_checker_s_stop_kills_the_namespace_s_init_and_the_waiter_ends_by_it(tmp_path):
    record = tmp_path / "killed"

    def kill(init: int, target: int, number: int) -> None:  # its own end faked, its init's real
        with record.open("a") as file:
            file.write(f"{'init' if target == init else 'itself'} {number}\n")
        if target == init:
            os.kill(target, number)

    pid = _waiter(lambda _status: time.sleep(3600), kill)
    caught = 1 << (signal.SIGTERM - 1)
    while not int(_status_field(pid, "SigCgt"), 16) & caught:  # its handler is in place
        time.sleep(0.001)
    os.kill(pid, signal.SIGTERM)
    _, code = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(code) == 1
    assert record.read_text() == f"init {int(signal.SIGKILL)}\nitself {int(signal.SIGKILL)}\n"


def _status_field(pid: int, name: str) -> str:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return next(line.split()[1] for line in lines if line.startswith(f"{name}:"))


def test_the_namespace_s_init_reaps_what_is_left_and_passes_the_worker_s_status_up():
    statuses, status = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            orphan = os.fork()  # reaped, not taken for the worker
            if orphan == 0:
                os._exit(5)
            worker = os.fork()
            if worker == 0:  # ends once the other is reaped
                while Path(f"/proc/{orphan}").exists():
                    time.sleep(0.01)
                os._exit(3)
            boundary._init(worker, status)
        finally:
            os._exit(99)
    os.close(status)
    _, code = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(code) == 0
    assert os.waitstatus_to_exitcode(int.from_bytes(os.read(statuses, 4), "little")) == 3
    os.close(statuses)


def _mounts_settings(tmp_path: Path, mode: str, uid: int) -> tuple[dict[str, Any], list[str]]:
    private = tmp_path / "tmp"
    kept = private / "kept"
    kept.mkdir(parents=True)
    settings = {"mode": mode, "uid": uid, "gid": uid, "reach": [str(kept), str(tmp_path / "no")]}
    return settings, [str(private), str(kept)]


@pytest.mark.parametrize(("mode", "uid"), [("root", 0), ("user", 1000)])
def test_the_worker_s_mounts(monkeypatch, tmp_path, mode, uid):
    settings, (private, kept) = _mounts_settings(tmp_path, mode, uid)
    made: list[Any] = []
    os_ = Os(makedirs=lambda *a, **_: made.append(a[0]), chown=lambda *a: made.append(a))
    monkeypatch.setattr(boundary, "os", os_)
    monkeypatch.setattr(boundary, "PRIVATE", (private,))
    monkeypatch.setattr(boundary, "_blocked", lambda *_: pytest.fail("not as root's own"))
    monkeypatch.setenv("HOME", "home")
    monkeypatch.setenv("TMPDIR", "tmp")
    remounted: list[bytes] = []
    monkeypatch.setattr(boundary, "_read_only", lambda _libc: remounted.append(b"all"))
    libc = Libc(mount=lambda *a: -1 if a[0] == b"proc" else 0)
    boundary._mounts(libc, settings)
    targets = [arguments[1] for _, arguments in libc.calls]
    expected = [b"/", private.encode(), kept.encode()]
    assert targets == [*expected, b"/proc"]
    assert remounted == ([b"all"] if mode == "user" else [])
    assert made == [kept, "/tmp/work", ("/tmp/work", uid, uid)]
    assert os.environ["HOME"] == os.environ["TMPDIR"] == "/tmp/work"


def test_the_folder_the_user_cannot_pass_on_the_way(monkeypatch):
    infos = {
        "/a": os.stat_result((0o40700, 0, 0, 0, 5, 6, 0, 0, 0, 0)),  # its owner: may pass
        "/a/b": os.stat_result((0o40070, 0, 0, 0, 9, 6, 0, 0, 0, 0)),  # its group: may pass
        "/a/b/c": os.stat_result((0o40770, 0, 0, 0, 9, 9, 0, 0, 0, 0)),  # the others: may not
    }
    monkeypatch.setattr(boundary, "os", Os(stat=infos.__getitem__))
    assert boundary._blocked("/a/b/c/d", 5, 6) == "/a/b/c"
    assert boundary._blocked("/a/b/e", 5, 6) is None


def test_every_mount_made_read_only_as_far_as_it_may_be(monkeypatch, tmp_path):
    info = tmp_path / "mountinfo"
    info.write_text("1 0 0:1 / / rw - ext4 /dev/x rw\n2 1 0:2 / /with\\040space rw - tmpfs t rw\n")
    monkeypatch.setattr(boundary, "open", lambda _: info.open(), raising=False)
    libc = Libc(mount=lambda *a: -1 if a[1] == b"/" else 0)
    boundary._read_only(libc)
    flags = boundary._MS_REMOUNT | boundary._MS_BIND | boundary._MS_RDONLY
    assert libc.calls == [
        ("mount", (None, b"/", None, flags, None)),
        ("mount", (None, b"/with space", None, flags, None)),
    ]


def test_drop_in_mode_none_limits_the_output_only(monkeypatch):
    limits: list[Any] = []
    fake = types.SimpleNamespace(setrlimit=lambda *a: limits.append(a), RLIMIT_FSIZE=1)
    monkeypatch.setattr(boundary, "resource", fake)
    monkeypatch.setattr(boundary, "_libc", lambda: pytest.fail("no system call"))
    monkeypatch.setenv(boundary._FALLBACK, json.dumps({"mode": "none"}))
    boundary.drop(json.dumps({"mode": "user"}))
    assert limits == [(1, (boundary.OUTPUT_LIMIT, boundary.OUTPUT_LIMIT))]
    assert boundary._FALLBACK not in os.environ


@pytest.mark.parametrize("capset", [0, -1])
def test_drop_in_mode_user_drops_every_capability(monkeypatch, capset):
    fake = types.SimpleNamespace(setrlimit=lambda *_: None, RLIMIT_FSIZE=1)
    monkeypatch.setattr(boundary, "resource", fake)
    libc = Libc(capset=capset)
    monkeypatch.setattr(boundary, "_libc", lambda: libc)
    if capset:
        with pytest.raises(OSError, match="dropping capabilities"):
            boundary.drop(json.dumps({"mode": "user", "uid": 1, "gid": 1}))
        return
    boundary.drop(json.dumps({"mode": "user", "uid": 1, "gid": 1}))
    header, data = libc.calls[0][1]
    assert (list(header), list(data)) == ([0x20080522, 0], [0] * 6)
    assert [name for name, _ in libc.calls] == ["capset", "prctl", "prctl"]


def test_drop_as_root_s_own_worker_changes_no_user(monkeypatch):
    fake = types.SimpleNamespace(setrlimit=lambda *_: None, RLIMIT_FSIZE=1)
    monkeypatch.setattr(boundary, "resource", fake)
    libc = Libc()
    monkeypatch.setattr(boundary, "_libc", lambda: libc)
    boundary.drop(json.dumps({"mode": "root", "uid": 0, "gid": 0}))
    assert libc.calls == [
        ("prctl", (boundary._PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)),
        ("prctl", (boundary._PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)),
    ]


# cgroup


def test_the_cgroup_mounts_and_paths_are_read_from_proc(monkeypatch, tmp_path):
    (tmp_path / "mountinfo").write_text(
        "a line without its separator\n"
        "1 0 0:1 /sub /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
        "2 0 0:2 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n"
    )
    (tmp_path / "cgroup").write_text("4:memory:/sub/x\n0::/y\n")
    monkeypatch.setattr(
        cgroup,
        "open",
        lambda path: (tmp_path / Path(path).name).open(),
        raising=False,
    )
    v1, v2 = cgroup._mounts_of_cgroups()
    assert v1 == {
        "rw": ("/sys/fs/cgroup/memory", "/sub"),
        "memory": ("/sys/fs/cgroup/memory", "/sub"),
    }
    assert v2 == ("/sys/fs/cgroup/unified", "/")
    assert cgroup._own_paths() == {"memory": "/sub/x", "": "/y"}


def test_a_cgroup_outside_the_mount_s_root_is_not_there(tmp_path):
    assert cgroup._under((str(tmp_path), "/sub"), "/other/x") is None
    (tmp_path / "x").mkdir()
    assert cgroup._under((str(tmp_path), "/sub"), "/sub/x") == str(tmp_path / "x")


def test_a_field_of_a_cgroup_file():
    assert cgroup._field("low 1\nmax 12\n", "max") == 12
    assert cgroup._field("max many\n", "max") == 0


@pytest.fixture
def as_root(monkeypatch):
    monkeypatch.setattr(cgroup, "os", Os(geteuid=lambda: 0))
    monkeypatch.setattr(cgroup, "sys", types.SimpleNamespace(platform="linux", stderr=sys.stderr))
    monkeypatch.delenv(cgroup.NO_CGROUP, raising=False)


def test_no_group_when_proc_cannot_be_read(monkeypatch, as_root):
    def unreadable() -> None:
        raise OSError

    monkeypatch.setattr(cgroup, "_mounts_of_cgroups", unreadable)
    assert cgroup.Group.make("g") is None


def _controllers(folder: str) -> None:
    Path(folder).mkdir()
    for name in ("memory.max", "pids.max", "cgroup.procs"):
        Path(folder, name).write_text("")


def test_a_cgroup2_group_beside_our_own_when_not_under_it(monkeypatch, tmp_path, as_root):
    own = tmp_path / "parent" / "own"
    own.mkdir(parents=True)
    (own / "reference-rnn-g").write_text("in the way: not a folder")
    stale = tmp_path / "parent" / "reference-rnn-999999999-1"
    stale.mkdir()
    monkeypatch.setattr(cgroup, "os", Os(geteuid=lambda: 0, mkdir=lambda f, _m: _controllers(f)))
    monkeypatch.setattr(cgroup, "_mounts_of_cgroups", lambda: ({}, (str(tmp_path), "/")))
    monkeypatch.setattr(cgroup, "_own_paths", lambda: {"": "/parent/own"})
    group = cgroup.Group.make("reference-rnn-g")
    assert group is not None
    assert (group.version, group.memory) == (2, str(tmp_path / "parent" / "reference-rnn-g"))
    assert (tmp_path / "parent" / "reference-rnn-g" / "pids.max").read_text() == str(
        cgroup.process_limit()
    )
    assert not stale.exists()  # a group of a checker no longer running: swept


def test_a_cgroup2_group_without_the_controllers_is_removed(tmp_path):
    mount = (str(tmp_path), "/")
    assert cgroup.Group._v2("g", mount, "/nowhere") is None
    assert cgroup.Group._v2("g", mount, "/") is None
    assert list(tmp_path.iterdir()) == []


def test_v1_groups_where_cgroup2_has_none(monkeypatch, tmp_path, as_root):
    (tmp_path / "memory").mkdir()
    v1 = {"memory": (str(tmp_path / "memory"), "/")}
    monkeypatch.setattr(cgroup, "_mounts_of_cgroups", lambda: (v1, (str(tmp_path), "/")))
    monkeypatch.setattr(cgroup, "_own_paths", lambda: {"memory": "/", "pids": "/"})
    group = cgroup.Group.make("g")
    assert group is not None
    assert (group.version, group.memory, group.pids) == (1, str(tmp_path / "memory" / "g"), None)
    assert group.procs() == [str(tmp_path / "memory" / "g" / "cgroup.procs")]
    assert cgroup.Group._made(v1, {"memory": "/"}, "memory", "g") is None  # there already
    assert cgroup.Group._made(v1, {"memory": "/gone"}, "memory", "h") is None


def test_a_group_whose_process_limit_cannot_be_set_is_removed(monkeypatch, tmp_path, as_root):
    v1 = {"pids": (str(tmp_path), "/")}
    monkeypatch.setattr(cgroup, "_mounts_of_cgroups", lambda: (v1, None))
    monkeypatch.setattr(cgroup, "_own_paths", lambda: {"pids": "/"})
    assert cgroup.Group.make("g") is None  # no pids.max in a folder of tmp_path
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("version", [1, 2])
def test_the_memory_limit_of_each_version(tmp_path, version):
    names = (
        ["memory.current", "memory.max", "memory.oom.group"]
        if version == 2
        else ["memory.usage_in_bytes", "memory.limit_in_bytes", "memory.memsw.limit_in_bytes"]
    )
    for name in names:
        (tmp_path / name).write_text("")
    (tmp_path / names[0]).write_text("1000")
    group = cgroup.Group(version, str(tmp_path), None)
    group.limit_memory(2)
    total = str(1000 + 2 * 2**20)
    assert [(tmp_path / name).read_text() for name in names[1:]] == (
        [total, "1"] if version == 2 else [total, total]
    )
    assert group.megabytes == 2
    assert not (tmp_path / "memory.swap.max").exists()


def test_a_memory_limit_that_cannot_be_set_is_not_set(tmp_path):
    group = cgroup.Group(2, str(tmp_path), None)
    group.limit_memory(2)
    assert group.megabytes == 0


def test_no_breach_when_the_counts_cannot_be_read(tmp_path):
    group = cgroup.Group(1, str(tmp_path), None)
    group.megabytes = 5
    assert group.breach() is None


def test_a_group_that_will_not_go_is_said_so(monkeypatch, tmp_path, capsys):
    folder = tmp_path / "g"
    folder.mkdir()
    (folder / "cgroup.kill").write_text("")
    monkeypatch.setattr(cgroup, "time", types.SimpleNamespace(sleep=lambda _: None))
    group = cgroup.Group(2, str(folder), str(folder))
    group.remove()
    assert (folder / "cgroup.kill").read_text() == "1"
    assert f"could not remove the cgroup {folder}" in capsys.readouterr().err
    (folder / "cgroup.kill").unlink()
    folder.rmdir()
    group.remove()  # gone already: nothing said
    assert capsys.readouterr().err == ""


def test_without_cgroup_kill_each_process_of_the_group_is_killed(tmp_path):
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as member:
        (tmp_path / "cgroup.procs").write_text(f"{member.pid}\n{2**22 + 12345}\n")
        cgroup.Group(1, str(tmp_path), None)._kill(str(tmp_path))
        assert member.wait(timeout=30) == -signal.SIGKILL


# process


class _Process:
    """A worker that has ended with ``code`` (how it ended is told by ``WorkerProcess._exit_code``)."""

    pid = 2**22 + 12345  # no such process

    def __init__(self, code: int) -> None:
        self.code = code

    def wait(self) -> int:
        return self.code


def test_a_worker_that_cannot_start_leaves_no_group(monkeypatch):
    removed: list[bool] = []
    group = types.SimpleNamespace(procs=lambda: ["p"], remove=lambda: removed.append(True))
    monkeypatch.setattr(process.boundary, "spec", lambda *_: {"mode": "root"})
    monkeypatch.setattr(process.boundary, "harden_checker", lambda: None)
    monkeypatch.setattr(process.cgroup.Group, "make", lambda _name: group)

    def popen(*_: object, **__: object) -> None:
        raise OSError("no such interpreter")

    monkeypatch.setattr(process.subprocess, "Popen", popen)
    with pytest.raises(OSError, match="no such interpreter"):
        process.WorkerProcess(1, 0)
    assert removed == [True]


def test_a_worker_that_cannot_start_without_a_group_says_why(monkeypatch):
    monkeypatch.setattr(process.boundary, "spec", lambda *_: {"mode": "none"})
    monkeypatch.setattr(process.boundary, "harden_checker", lambda: None)
    monkeypatch.setattr(process.cgroup.Group, "make", lambda _name: pytest.fail("no group"))

    def popen(*_: object, **__: object) -> None:
        raise OSError("no such interpreter")

    monkeypatch.setattr(process.subprocess, "Popen", popen)
    with pytest.raises(OSError, match="no such interpreter"):
        process.WorkerProcess(1, 0)


def _worker(code: int, *, waiter: bool) -> tuple[process.WorkerProcess, int, int]:
    worker = object.__new__(process.WorkerProcess)
    requests_read, requests = os.pipe()
    replies, replies_write = os.pipe()
    worker._requests, worker._replies = requests, replies
    worker.process = _Process(code)  # type: ignore[assignment]
    worker._group, worker._memory, worker.stopped, worker._waiter = None, 0, False, waiter
    return worker, requests_read, replies_write


def test_a_broken_pipe_to_the_worker_says_how_it_ended():
    worker, requests_read, replies_write = _worker(3, waiter=False)
    os.close(requests_read)
    codes = iter([None, 3])  # running as the request starts; ended when the pipe breaks
    worker._exit_code = lambda *_: next(codes)  # type: ignore[method-assign]
    with pytest.raises(process.WorkerLostError, match="exited with status 3"):
        worker.send(b"x", deadline=float("inf"))
    os.close(replies_write)
    worker.stop(at_once=True)


def test_a_worker_that_ends_while_waited_for_says_how():
    worker, requests_read, replies_write = _worker(4, waiter=False)
    codes = iter([None, 4, 4])  # running at the first look; ended at the next
    worker._exit_code = lambda *_: next(codes)  # type: ignore[method-assign]
    with pytest.raises(process.WorkerLostError, match="exited with status 4"):
        worker._wait(worker._replies, float("inf"), write=False)
    worker.stop(at_once=True)  # no waiter: its session killed at once
    assert worker.stopped
    for fd in (requests_read, replies_write):
        os.close(fd)


# sandbox


def test_a_sandbox_that_cannot_open_its_output_leaves_no_folder(monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    def refuse(*_: object) -> int:
        raise PermissionError("refused")

    monkeypatch.setattr(sandbox, "os", Os(open=refuse))
    with pytest.raises(PermissionError, match="refused"):
        sandbox.Sandbox("t.py", "cs231n", sandbox.Limits())
    assert list(tmp_path.iterdir()) == []


def test_a_folder_made_unremovable_is_made_ours_and_removed(monkeypatch, tmp_path):
    folder = tmp_path / "check"
    (folder / "locked" / "deep").mkdir(parents=True)
    (folder / "file").write_text("x")
    real = shutil.rmtree

    def rmtree(path: str, onerror: Any = None) -> None:  # as a normal user's would: refused
        if onerror is not None:
            for entry in sorted(Path(path).iterdir()):
                onerror(os.rmdir, str(entry / "deep" if entry.is_dir() else entry), None)
        real(path)

    monkeypatch.setattr(sandbox, "shutil", types.SimpleNamespace(rmtree=rmtree))
    (folder / "locked").chmod(0o500)
    sandbox._remove(str(folder))
    assert not folder.exists()


def test_a_folder_that_will_not_go_is_said_so(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(sandbox, "shutil", types.SimpleNamespace(rmtree=lambda *_, **__: None))
    sandbox._remove(str(tmp_path))
    assert f"could not remove {tmp_path}" in capsys.readouterr().err
    assert tmp_path.exists()
