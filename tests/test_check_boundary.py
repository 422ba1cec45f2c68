"""The operating-system boundary: hostile code run by the real checker, each outcome exact.

Each target is the correct CS231n example with a hostile change in ``rnn_forward``, checked by
``python -m reference_rnn check`` as a separate process (the checker whose report, exit status and
processes are judged), as root here, so the worker runs as ``nobody``; one test runs the checker
itself as an unprivileged user (a user and PID namespace for its worker).
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
from processes import HOLD, alive, held

from reference_rnn.checker import boundary, cgroup

ROOT = Path(__file__).parents[1]
CORRECT = (ROOT / "examples" / "cs231n_rnn_layers.py").read_text()
FORWARD = """

_correct_rnn_forward = rnn_forward


def rnn_forward(x, h0, Wx, Wh, b):
{change}
    return _correct_rnn_forward(x, h0, Wx, Wh, b)
"""
ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="the drop to another user needs root")


def hostile(folder: Path, change: str) -> Path:
    body = textwrap.indent(textwrap.dedent(change).strip(), "    ")
    path = folder / "hostile.py"
    path.write_text(CORRECT + FORWARD.format(change=body))
    return path


UNPRIVILEGED = 4242
AS_A_USER = shutil.which("setpriv") is not None and shutil.which("unshare") is not None
# who starts the checker: root (its worker drops to nobody) or a normal user (its worker goes into
# namespaces); the attacks are made in both, and each is refused in both
STARTED_BY = [
    pytest.param("root", id="by-root"),
    pytest.param(
        "a user",
        id="by-a-user",
        marks=pytest.mark.skipif(not AS_A_USER, reason="needs setpriv and unshare"),
    ),
]


def run(
    target: Path,
    *options: str,
    timeout: float = 120,
    env: dict[str, str] | None = None,
    started_by: str = "root",
) -> subprocess.CompletedProcess[str]:
    """The checker, its temporary folders in a folder of this test's: none left there after."""
    command = [sys.executable, "-P", "-m", "reference_rnn", "check", str(target), "--api", "cs231n"]
    own = target.parent / "checker-tmp"
    own.mkdir(mode=0o700)
    env = {**os.environ, "TMPDIR": str(own), **(env or {})}
    command = [*command, "--json", *options]
    stage = Path(tempfile.mkdtemp(prefix="stage-"))  # root's: where mounts wait, out of any cover
    if started_by == "a user":
        os.chown(own, UNPRIVILEGED, UNPRIVILEGED)
        command = as_a_user(command, target.parent, stage, env)
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT
    ) as checker:
        try:
            stdout, stderr = checker.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            checker.kill()
            raise
        finally:
            shutil.rmtree(stage)
    assert list(own.iterdir()) == []
    assert groups(checker.pid) == []  # every cgroup the checker made is gone
    return subprocess.CompletedProcess(checker.args, checker.returncode, stdout, stderr)


def as_a_user(command: list[str], folder: Path, stage: Path, env: dict[str, str]) -> list[str]:
    """``command`` run as uid 4242, the interpreter under /root made reachable for it.

    As it is in a container's /usr/local: what 4242 must reach (the interpreter, the venv, the
    project, the test's folder) is brought back under a tmpfs on each folder it may not pass (/root,
    a CI clone's 0700 folder, pytest's 0700 base), in the command's own mount namespace, as the
    boundary does for its worker.
    """
    needed = {os.path.realpath(p) for p in (sys.base_prefix, sys.prefix, ROOT, folder)}
    covers = {c for c in (boundary._blocked(p, UNPRIVILEGED, UNPRIVILEGED) for p in needed) if c}
    back = sorted(p for p in needed if any(p == c or p.startswith(c + "/") for c in covers))
    steps = []
    for i, path in enumerate(back):
        (stage / str(i)).mkdir()
        steps.append(f"mount --bind {path} {stage / str(i)}")
    steps += [f"mount -t tmpfs -o mode=755 tmpfs {cover}" for cover in sorted(covers)]
    steps += [f"mkdir -p {p} && mount --move {stage / str(i)} {p}" for i, p in enumerate(back)]
    env["HOME"] = "/tmp"
    user = f"setpriv --reuid {UNPRIVILEGED} --regid {UNPRIVILEGED} --clear-groups"
    script = " && ".join([*steps, f"exec {user} {shlex.join(command)}"])
    return ["unshare", "--mount", "sh", "-c", script]


def groups(pid: int) -> list[str]:
    """The cgroups the checker ``pid`` made (``reference-rnn-PID-N``) that are still there."""
    name = f"reference-rnn-{pid}-"
    found = []
    for folder, folders, _ in os.walk("/sys/fs/cgroup"):
        found += [str(Path(folder) / f) for f in folders if f.startswith(name)]
    return found


def writable_cgroup(*controllers: str) -> bool:
    """Whether the checker here makes its workers a cgroup with these controllers."""
    group = cgroup.Group.make(f"reference-rnn-probe-{os.getpid()}")
    if group is None:
        return False
    group.remove()
    return all(getattr(group, c) is not None for c in controllers)


CGROUP = writable_cgroup("memory", "pids")


def failed(result: subprocess.CompletedProcess[str]) -> dict[str, list[str]]:
    """The checker's own report (exactly one JSON document on stdout): reason -> failed checks."""
    assert result.returncode == 1, result.stderr
    document = json.loads(result.stdout)
    assert document["passed"] is False
    found: dict[str, list[str]] = {}
    for item in document["checks"]:
        if not item["passed"]:
            found.setdefault(item["detail"], []).append(item["name"])
    return found


def raised(result: subprocess.CompletedProcess[str]) -> set[str]:
    """What ``rnn_forward`` raised, without where: the checks after it are not run."""
    found = set(failed(result)) - {"not run: rnn_forward failed"}
    return {d.removeprefix("rnn_forward raised ").split(" (at hostile.py")[0] for d in found}


SAMPLE = {f"sample/{v}" for v in ("h", "dx", "dh0", "dWx", "dWh", "db")}


@ROOT_ONLY
def test_the_judged_code_runs_as_nobody_and_writes_nothing_of_the_checker_s(tmp_path):
    probe = tmp_path / "probe.json"
    change = f"""
        import json, os, sys, tempfile
        import email.mime.text, sqlite3  # not imported by the worker yet
        import sibling  # beside the target
        seen = {{"uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups()}}
        for path in [os.getcwd(), {str(ROOT / "reference_rnn" / "checker")!r}, sys.prefix,
                     "/root", {str(tmp_path / "checker-tmp")!r}]:
            try:
                open(os.path.join(path, "written-by-the-judged-code"), "w").close()
                seen[path] = "written"
            except OSError as exc:
                seen[path] = exc.strerror
        seen["home"] = os.environ["HOME"]
        seen["checker folders"] = [n for n in os.listdir("/tmp") if n.startswith("reference-rnn")]
        open({str(probe)!r}, "w").write(json.dumps(seen))
        raise ValueError("probed")
    """
    (tmp_path / "sibling.py").write_text("VALUE = 1\n")
    target = hostile(tmp_path, change)
    target.write_text("import sibling\n" + target.read_text())  # found at import, as a script's
    result = run(target)
    assert raised(result) == {"ValueError: probed"}
    seen = json.loads(probe.read_text())
    assert (seen["uid"], seen["gid"], seen["groups"]) == (65534, 65534, [])
    assert seen[str(Path.cwd())] == "Permission denied"
    assert seen[str(ROOT / "reference_rnn" / "checker")] == "Permission denied"
    assert seen[sys.prefix] == "Permission denied"
    assert seen["/root"] == "Permission denied"
    assert seen[str(tmp_path / "checker-tmp")] == "Permission denied"
    assert seen["home"] == "/tmp/work"
    assert seen["checker folders"] == []  # the checker's folder is out of sight
    assert not list(ROOT.rglob("written-by-the-judged-code"))


@ROOT_ONLY
def test_an_unknown_worker_user_is_a_usage_error(tmp_path):
    result = run(hostile(tmp_path, "pass"), "--worker-user", "no-such-user-here")
    assert result.returncode == 2
    assert (
        json.loads(result.stdout)["error"] == "argument --worker-user: no user 'no-such-user-here'"
    )


FIND_THE_CHECKER = """
    import os, signal, subprocess
    mine = os.getpid()
    pids = [os.getppid()]
    for entry in os.listdir("/proc"):  # as an attacker finds it: every process running the checker
        if not entry.isdigit():
            continue
        try:
            line = open(f"/proc/{entry}/cmdline", "rb").read()
        except OSError:
            continue
        if b"reference_rnn\\x00check" in line and int(entry) != mine:
            pids.append(int(entry))
    pids += [int(p) for p in subprocess.run(["pgrep", "-f", "reference_rnn check"], capture_output=True, text=True).stdout.split()]
    hit = []
    for pid in set(pids) - {mine}:
        try:
            if os.stat(f"/proc/{pid}").st_uid == os.getuid():
                continue  # not a checker: its own namespace's (its init, as a normal user's)
            os.kill(pid, signal.%s)
            hit.append(pid)
        except OSError:
            pass
    raise PermissionError(f"signalled {len(hit)}")
"""


@ROOT_ONLY
@pytest.mark.parametrize("name", ["SIGTERM", "SIGINT", "SIGSTOP"])
@pytest.mark.parametrize("started_by", STARTED_BY)
def test_a_signal_to_the_checker_cannot_reach_it(tmp_path, started_by, name):
    result = run(hostile(tmp_path, FIND_THE_CHECKER % name), started_by=started_by)
    assert raised(result) == {"PermissionError: signalled 0"}  # in the checker's own report
    assert json.loads(result.stdout)["checks"][0]["passed"] is True


@ROOT_ONLY
def test_a_worker_cannot_signal_another_check_s_worker_of_the_same_user(tmp_path):
    """Two checks at once, both workers ``nobody``: one signals every process it can see that
    names the other's folder (every worker's command line does), and the other's check passes.
    The other's folder is in the first one's, the one folder outside its private /tmp it sees."""
    attacker = tmp_path / "attacker"
    victim = attacker / "victim"
    for folder in (attacker, victim):
        folder.mkdir(mode=0o777)
        folder.chmod(0o777)
    wait = f"""
        global waited
        if "waited" not in globals():  # the first call: until the attacker has tried
            waited = open({str(victim / "ready")!r}, "w").close()
            while not os.path.exists({str(victim / "done")!r}):
                time.sleep(0.01)
    """
    attack = f"""
        import os, signal, time
        while not os.path.exists({str(victim / "ready")!r}):
            time.sleep(0.01)
        hit = []
        for entry in filter(str.isdigit, os.listdir("/proc")):
            try:
                if {str(victim).encode()!r} in open(f"/proc/{{entry}}/cmdline", "rb").read():
                    os.kill(int(entry), signal.SIGKILL)
                    hit.append(entry)
            except OSError:
                pass
        open({str(victim / "done")!r}, "w").close()
        raise PermissionError(f"signalled {{len(hit)}}")
    """
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(run, hostile(victim, "import os, time\n" + textwrap.dedent(wait)))
        attacked = run(hostile(attacker, attack))
        result = waiting.result()
    assert raised(attacked) == {"PermissionError: signalled 0"}
    assert result.returncode == 0, result.stdout
    assert json.loads(result.stdout)["passed"] is True


@ROOT_ONLY
@pytest.mark.parametrize(
    "attack",
    [
        "open(f'/proc/{os.getppid()}/fd/1', 'w').write('PASSED\\n')",
        "open(f'/proc/{checker()}/fd/1', 'w').write('{\"passed\": true}\\n')",
        "ptrace(16, checker())",  # PTRACE_ATTACH
        "ptrace(0x4206, checker())",  # PTRACE_SEIZE
    ],
    ids=[
        "fake PASSED to the parent's stdout",
        "second document to the checker's",
        "PTRACE_ATTACH",
        "PTRACE_SEIZE",
    ],
)
@pytest.mark.parametrize("started_by", STARTED_BY)
def test_the_checker_s_output_and_memory_are_out_of_reach(tmp_path, started_by, attack):
    change = f"""
        import ctypes, os
        def checker():
            for entry in os.listdir("/proc"):
                if not entry.isdigit():
                    continue
                try:
                    line = open(f"/proc/{{entry}}/cmdline", "rb").read()
                except OSError:
                    continue
                if b"reference_rnn\\x00check" in line:
                    return int(entry)
            raise LookupError("no checker")
        def ptrace(request, pid):
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.ptrace(request, pid, None, None) != 0:
                raise PermissionError(os.strerror(ctypes.get_errno()))
        {attack}
    """
    result = run(hostile(tmp_path, change), started_by=started_by)
    # its own PID namespace: its parent is the namespace's first process, the checker not in sight
    if started_by == "root":  # a root process's files
        parent = "PermissionError: [Errno 13] Permission denied: '/proc/1/fd/1'"
    else:  # one that keeps no file open
        parent = "FileNotFoundError: [Errno 2] No such file or directory: '/proc/1/fd/1'"
    expected = parent if "getppid" in attack else "LookupError: no checker"
    assert raised(result) == {expected}  # and stdout is exactly one document, the checker's


@ROOT_ONLY
@pytest.mark.parametrize(
    "attack",
    [
        "os.rename(capture(), capture() + '.moved'); os.mkdir(capture())",
        "os.unlink(capture()); os.mkfifo(capture())",
        "os.chmod(os.path.dirname(capture()), 0)",
    ],
    ids=["capture replaced by a directory", "capture replaced by a FIFO", "folder unreadable"],
)
@pytest.mark.parametrize("started_by", STARTED_BY)
def test_the_checker_s_files_are_out_of_reach(tmp_path, started_by, attack):
    change = f"""
        import os
        def capture():
            return os.readlink("/proc/self/fd/1")
        {attack}
    """
    result = run(hostile(tmp_path, change), started_by=started_by)
    assert len(raised(result)) == 1
    refused = ("PermissionError", "FileNotFoundError", "OSError: [Errno 30] Read-only file system")
    assert next(iter(raised(result))).startswith(refused)


@ROOT_ONLY
@pytest.mark.parametrize("started_by", STARTED_BY)
def test_300_mb_to_stdout_ends_the_worker_and_the_report_is_the_checker_s(tmp_path, started_by):
    change = """
        import os
        block = b"x" * 2**20
        for _ in range(300):
            os.write(1, block)
    """
    started = time.monotonic()
    result = run(hostile(tmp_path, change), started_by=started_by)
    assert raised(result) == {"OSError: [Errno 27] File too large"}  # Python ignores SIGXFSZ
    document = json.loads(result.stdout)
    assert (
        document["output"][-1] == f"[{64 * 2**20} bytes in all: only the first 1 lines are shown]"
    )
    assert time.monotonic() - started < 120


@ROOT_ONLY
@pytest.mark.parametrize("started_by", STARTED_BY)
def test_a_detached_grandchild_is_dead_when_the_check_returns(tmp_path, started_by):
    marker = str(tmp_path / "the grandchild")  # in its command line, to find it from outside
    change = f"""
        import os, sys
        ready, told = os.pipe()
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.dup2(told, 1)
                wait = "import os, time; os.write(1, b'ready'); time.sleep(3600)"
                os.execv(sys.executable, [sys.executable, "-c", wait, {marker!r}])
            os._exit(0)
        os.close(told)
        assert os.read(ready, 5) == b"ready"  # it runs, detached, as its own session
        raise RuntimeError("forked")
    """
    result = run(hostile(tmp_path, change), started_by=started_by)
    assert raised(result) == {"RuntimeError: forked"}
    assert running(marker) == []


def running(marker: str) -> list[int]:
    """The processes whose command line holds ``marker`` (zombies are dead: ended, not reaped)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if marker.encode() in (entry / "cmdline").read_bytes() and alive(int(entry.name)):
                found.append(int(entry.name))
        except (OSError, ValueError):  # not a process, or one that ended between the looks
            continue
    return found


FOUR_CHILDREN = """
        import os
        children = []
        for _ in range(4):
            pid = os.fork()
            if pid == 0:
                block = bytearray(150 * 2**20)
                os._exit(0 if len(block) else 1)
            children.append(pid)
        codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children]
        raise RuntimeError(f"children ended with {codes}")
"""
OVER_MEMORY = "the worker's processes together used more than 200 MB (--memory-limit): the system ended one of them"
OVER_PROCESSES = (
    f"the worker's processes reached the process limit ({cgroup.process_limit()} processes and "
    "threads in all): one could not start"
)


def restarts(why: str) -> str:
    return f"not run: 3 earlier calls crashed or hung the worker (the last: {why})"


@ROOT_ONLY
@pytest.mark.skipif(
    not CGROUP, reason="no writable cgroup (memory, pids) here: limits are per process"
)
def test_four_children_of_150_mb_each_exceed_the_group_s_200_mb(tmp_path):
    """The cgroup's limit is the whole group's: the first three calls fail by it, each in a fresh
    worker, and the runner's other calls are not run."""
    result = run(hostile(tmp_path, FOUR_CHILDREN), "--memory-limit", "200")
    assert set(failed(result)) == {OVER_MEMORY, restarts(OVER_MEMORY)}
    document = json.loads(result.stdout)
    sample = [
        c for c in document["checks"] if c["case"] == "sample" and "_step_" not in c["function"]
    ]
    assert [c["detail"] for c in sample] == [OVER_MEMORY] * 6


@ROOT_ONLY
def test_without_a_cgroup_four_children_of_150_mb_each_take_their_own_200_mb(tmp_path):
    """RLIMIT_AS is per process: without a cgroup the limit is not the group's (docs: Threat model)."""
    result = run(
        hostile(tmp_path, FOUR_CHILDREN),
        "--memory-limit",
        "200",
        env={cgroup.NO_CGROUP: "1"},
    )
    assert raised(result) == {"RuntimeError: children ended with [0, 0, 0, 0]"}


@ROOT_ONLY
@pytest.mark.skipif(not CGROUP, reason="no writable cgroup (memory, pids) here: no process limit")
def test_a_fork_bomb_fails_by_the_process_limit_and_its_processes_are_gone(tmp_path):
    change = f"""
        import os, time
        started = failed = 0
        for _ in range(10_000):
            try:
                pid = os.fork()
            except OSError:
                failed += 1
                continue
            if pid == 0:
                open({str(tmp_path / "pids")!r}, "a").write(f"{{os.getpid()}}\\n")
                time.sleep(60)
                os._exit(0)
            started += 1
        raise RuntimeError(f"{{started}} started, {{failed}} failed")
    """
    started = time.monotonic()
    path = hostile(tmp_path, HOLD + textwrap.dedent(change))
    lock = Path(f"{path}.lock")
    lock.touch(mode=0o644)
    result = run(path)
    assert set(failed(result)) == {OVER_PROCESSES, restarts(OVER_PROCESSES)}
    assert time.monotonic() - started < 60
    children = (tmp_path / "pids").read_text().split()
    assert 0 < len(children) < 3 * cgroup.process_limit()
    assert not held(lock)  # every process it started is gone


@ROOT_ONLY
@pytest.mark.skipif(not AS_A_USER, reason="needs setpriv and unshare")
def test_a_checker_run_by_a_normal_user_puts_its_worker_in_namespaces(tmp_path):
    """The checker as uid 4242: its worker in a user, PID and mount namespace."""
    change = f"""
        import json, os
        seen = {{"pid": os.getpid(), "ppid": os.getppid(), "uid": os.getuid()}}
        seen["processes"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
        for name, path in [("project", {str(ROOT / "x")!r}), ("tmp", "/tmp/x")]:
            try:
                open(path, "w").close()
                seen[name] = "written"
            except OSError as exc:
                seen[name] = exc.strerror
        print("PROBE" + json.dumps(seen))
        raise ValueError("probed")
    """
    result = run(hostile(tmp_path, change), started_by="a user")
    assert raised(result) == {"ValueError: probed"}, result.stderr
    seen = json.loads(json.loads(result.stdout)["output"][0].removeprefix("PROBE"))
    assert seen["uid"] == UNPRIVILEGED
    assert seen["pid"] == 2  # its own PID namespace: the checker has no number there
    assert seen["ppid"] == 1  # the namespace's first process
    assert seen["processes"] == [1, 2]
    assert seen["project"] == "Read-only file system"
    assert seen["tmp"] == "written"  # its private tmpfs


@ROOT_ONLY
def test_the_plugin_s_run_keeps_the_boundary(tmp_path):
    """Through the pytest plugin: the judged code signals every pytest it finds, and writes a
    conftest.py beside itself; pytest ends with its own summary, and no file is written."""
    change = """
        import os, signal
        mine, hit = os.getpid(), []
        for entry in filter(str.isdigit, os.listdir("/proc")):
            try:
                line = open(f"/proc/{entry}/cmdline", "rb").read()
            except OSError:
                continue
            if b"pytest" in line and int(entry) != mine:
                try:
                    os.kill(int(entry), signal.SIGTERM)
                    hit.append(entry)
                except OSError:
                    pass
        try:
            open(os.path.join(os.path.dirname(__file__), "conftest.py"), "w").write("boom")
        except OSError as exc:
            raise PermissionError(f"signalled {len(hit)}; conftest: {exc.strerror}") from None
    """
    target = hostile(tmp_path, change)
    tmp_path.chmod(0o755)  # a grader's folder: the worker user reads it, and writes nothing there
    command = [sys.executable, "-P", "-m", "pytest", "-p", "no:cacheprovider"]
    options = ["--rnn-target", str(target), "--rnn-api", "cs231n", "--rnn-include", "*-sample-*"]
    result = subprocess.run(
        [*command, *options], capture_output=True, text=True, cwd=tmp_path, timeout=300, check=False
    )
    assert result.returncode == 1, result.stdout + result.stderr
    refused = "rnn_forward raised PermissionError: signalled 0; conftest: Permission denied"
    assert refused in result.stdout
    assert re.search(r"=+ \d+ failed, \d+ passed in ", result.stdout.splitlines()[-1]), (
        result.stdout
    )
    assert not (tmp_path / "conftest.py").exists()
