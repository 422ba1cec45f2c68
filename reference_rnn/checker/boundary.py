# ruff: noqa: PTH100, PTH103, PTH109, PTH112, PTH116, PTH120, PTH123
"""The operating-system boundary between the checker and the worker that runs the judged code.

Standard library only: the worker runs :func:`enter` first thing, before it imports NumPy (which
may start threads, and a process with threads can no longer enter namespaces), loaded by file so
that the package's ``__init__`` (NumPy) is not run yet.

Three modes, chosen by the checker (:func:`spec`):

- **root** (the checker's effective uid is 0): the worker enters a new mount and PID namespace;
  there it mounts a private, size-limited tmpfs on ``/tmp``, ``/var/tmp`` and ``/dev/shm`` (its
  private folder, ``/tmp/work``, is its HOME and TMPDIR; the checker's own temporary folder is
  under the real ``/tmp`` and out of sight), and a tmpfs over each folder the worker user could
  not pass on the way to what it must read (the interpreter under ``/root/.pyenv``, say), with
  those paths bound back. It then drops to the worker user for good (``setgroups([])``, ``setgid``,
  ``setuid``: every capability gone, ``PR_SET_NO_NEW_PRIVS``) before any of the judged code runs.
  Its rights on the files are that user's: it writes nowhere the user could not, and it may not
  signal or trace the checker, a root process.
- **user** (a normal user, where unprivileged user namespaces work): the worker enters a new user
  (its own uid mapped to itself), PID and mount namespace, with the same private tmpfs and
  ``/proc``; every other mount is made read-only there, and it drops every capability and sets
  ``PR_SET_NO_NEW_PRIVS``. It cannot write the checker's files, the package or the project.
- **none** (no namespaces): the worker is only in a session of its own, as the same user. The
  checker is not dumpable (:func:`harden_checker`): not traceable, its ``/proc`` entries closed.

In both namespace modes the worker has a PID namespace of its own, with its own ``/proc``: it
cannot name the checker, nor another check's worker run as the same user, by PID. Three
processes: the waiter (the process the checker started, outside the namespace) mirrors the
worker's exit status; the namespace's first process (:func:`_init`) reaps what the worker leaves
and passes the worker's status up; the worker. When the worker ends, or the checker stops it, the
namespace ends and every process the judged code started with it, detached grandchildren
included. In mode "root", where a cgroup can be made (:class:`reference_rnn.checker.cgroup.Group`),
the worker joins one of its own before the forks: the memory limit is the whole group's, and the
number of its processes is limited.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import pwd
import resource
import signal
import stat
import sys
from typing import Any

__all__ = ["drop", "enter", "harden_checker", "known_user", "reach", "spec", "target_folder"]

#: The default worker user when the checker runs as root.
DEFAULT_USER = "nobody"
#: The most the worker may write to one file (its captured stdout and stderr among them).
OUTPUT_LIMIT = 64 * 2**20
#: The size of the worker's private tmpfs folders.
TMPFS_SIZE = "256m"
#: The worker's private folders: a fresh tmpfs on each.
PRIVATE = ("/tmp", "/var/tmp", "/dev/shm")
#: Set (to anything) to check as a user without namespaces would (mode "none"), for tests.
NO_NAMESPACES = "REFERENCE_RNN_NO_NAMESPACES"

_CLONE_NEWNS, _CLONE_NEWUSER, _CLONE_NEWPID = 0x00020000, 0x10000000, 0x20000000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 1, 2, 4, 8
_MS_REMOUNT, _MS_BIND, _MS_REC, _MS_PRIVATE = 32, 4096, 16384, 1 << 18
_PR_SET_PDEATHSIG, _PR_SET_DUMPABLE, _PR_SET_NO_NEW_PRIVS = 1, 4, 38


def _libc() -> Any:
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def harden_checker() -> None:
    """The checker not dumpable: no same-uid process may trace it or open its ``/proc`` entries."""
    if sys.platform == "linux":
        _libc().prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)


def known_user(name: str | None) -> bool:
    """Whether ``name`` (None: the default) is a user of this system, or "" (none)."""
    if not name:
        return True
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def spec(user: str | None, reach: list[str]) -> dict[str, Any]:
    """What the worker's :func:`enter` and :func:`drop` do, as the checker decides it.

    ``user``: the worker user when the checker runs as root (None: the default, ``nobody``;
    ``""``: no user change). ``reach``: the paths the worker must read (the interpreter, the
    checker's ``sys.path``, the target's folder), brought back where a private mount hides them.
    KeyError when the user does not exist.
    """
    if sys.platform != "linux" or os.environ.get(NO_NAMESPACES):
        return {"mode": "none"}
    if os.geteuid() != 0:
        return {"mode": "user", "uid": os.getuid(), "gid": os.getgid(), "reach": reach}
    name = DEFAULT_USER if user is None else user
    entry = pwd.getpwnam(name) if name else None
    uid, gid = (entry.pw_uid, entry.pw_gid) if entry else (0, 0)
    return {"mode": "root", "uid": uid, "gid": gid, "reach": reach}


def target_folder(target: str) -> str | None:
    """The folder of TARGET's file (as :func:`reference_rnn.checker.target.load_target` reads it), if a file."""
    source, sep, tail = target.rpartition(":")
    if not (sep and tail.isidentifier()):
        source = target
    if source.endswith(".py") or "/" in source:
        return os.path.dirname(os.path.abspath(source))
    return None


def reach(target_folder: str | None) -> list[str]:
    """The paths a worker must read: the interpreter's, ``sys.path``'s, the working and target's folders."""
    paths = [sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(sys.executable)]
    paths += [os.path.dirname(os.path.realpath(sys.executable)), os.getcwd()]
    paths += [entry or os.getcwd() for entry in sys.path]
    if target_folder:
        paths.append(target_folder)
    real = {os.path.realpath(path) for path in paths}
    return sorted(path for path in real if os.path.isdir(path))


def enter(argument: str) -> None:
    """In the worker, before its imports: the namespaces of the checker's ``spec`` (JSON).

    The process the checker started stays as the waiter (:func:`_wait_for`); the worker proper
    returns from here, in its new namespaces, with its mounts made. Where the namespaces cannot
    be made, the worker goes on as it is (mode "none").
    """
    settings = json.loads(argument)
    _join(settings.get("cgroup", []))  # no limit escaped: fails the worker's start
    mode = settings["mode"]
    if mode == "none":
        return
    libc = _libc()
    flags = _CLONE_NEWNS | _CLONE_NEWPID | (_CLONE_NEWUSER if mode == "user" else 0)
    if libc.unshare(flags) != 0:
        os.environ[_FALLBACK] = json.dumps({"mode": "none"})
        return
    if mode == "user":
        _map(settings["uid"], settings["gid"])
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)  # the checker gone: end it all
    statuses, status = os.pipe()  # the worker's wait status, from the namespace's init
    child = os.fork()
    if child:
        os.close(status)
        _wait_for(child, statuses)
    os.close(statuses)
    # The first process of the new PID namespace: when it ends, so does every process in it
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # the waiter gone: so are we
    worker = os.fork()
    if worker:
        _init(worker, status)
    os.close(status)
    _mounts(libc, settings)


_FALLBACK = "REFERENCE_RNN_BOUNDARY"


def _map(uid: int, gid: int) -> None:
    """In a new user namespace: our uid and gid mapped to themselves, no group changes."""
    for name, text in (
        ("setgroups", "deny"),
        ("uid_map", f"{uid} {uid} 1"),
        ("gid_map", f"{gid} {gid} 1"),
    ):
        with open(f"/proc/self/{name}", "w") as file:
            file.write(text)


def _init(worker: int, status: int) -> None:
    """PID 1 of the worker's namespace: the worker's wait status written to ``status``; the end.

    The worker is not PID 1 itself: a namespace's first process gets only the signals it has a
    handler for, so the judged code's ``os.kill(os.getpid(), SIGKILL)`` or ``abort()`` would not
    end it as they end any other process. What the worker leaves behind becomes this process's,
    and is reaped as it ends; what is still running when this process ends, the kernel kills.
    It keeps no other file open: the channel to the checker is the worker's alone.
    """
    os.closerange(0, status)
    os.closerange(status + 1, 1 << 16)
    while True:
        pid, code = os.waitpid(-1, 0)
        if pid == worker:
            os.write(status, code.to_bytes(4, "little"))
            os._exit(0)


def _wait_for(child: int, statuses: int) -> None:
    """The waiter: the worker's exit status as its own, once its PID namespace is gone.

    ``child`` is the namespace's first process (:func:`_init`), which writes the worker's wait
    status to ``statuses``. When it ends, the kernel kills every process left in the namespace,
    and it is reaped only once they are gone. On SIGTERM (the checker's stop, or the checker's
    end) the waiter kills it. The judged code cannot signal the waiter: it has no PID in its
    namespace.
    """
    os.closerange(3, statuses)
    os.closerange(statuses + 1, 1 << 16)
    signal.signal(signal.SIGTERM, lambda *_: os.kill(child, signal.SIGKILL))
    for each in (signal.SIGINT, signal.SIGHUP):
        signal.signal(each, signal.SIG_IGN)
    os.waitid(os.P_PID, child, os.WEXITED | os.WNOWAIT)  # ended; not reaped, its PID still its own
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # and a stop that comes now is not run
    _, status = os.waitpid(child, 0)
    written = os.read(statuses, 4)  # nothing if the namespace's init was killed: its own status
    if len(written) == 4:
        status = int.from_bytes(written, "little")
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        with contextlib.suppress(OSError, ValueError):  # SIGKILL and SIGSTOP have no handler
            signal.signal(number, signal.SIG_DFL)
        os.kill(os.getpid(), number)
    os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1)


def _mounts(libc: Any, settings: dict[str, Any]) -> None:
    """The worker's view: private tmpfs folders, its own /proc, what it must read brought back."""
    _check(libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None), "making / private")
    uid, gid = settings["uid"], settings["gid"]
    paths = [path for path in settings["reach"] if os.path.isdir(path)]
    covers = {os.path.realpath(p) for p in PRIVATE if os.path.isdir(p)}
    if settings["mode"] == "root" and uid != 0:
        covers |= {cover for cover in (_blocked(p, uid, gid) for p in paths) if cover}
    covers = {c for c in covers if not any(c.startswith(o + "/") for o in covers if o != c)}
    back = [p for p in paths if any(p == c or p.startswith(c + "/") for c in covers)]
    held = {path: os.open(path, os.O_PATH | os.O_DIRECTORY) for path in back}
    if settings["mode"] == "user":  # everything read-only, before the private mounts
        _read_only(libc)
    for cover in sorted(covers):
        private = cover in {os.path.realpath(p) for p in PRIVATE}
        options = f"mode={'1777' if private else '0755'},size={TMPFS_SIZE}".encode()
        flags = _MS_NOSUID | _MS_NODEV
        _check(libc.mount(b"tmpfs", cover.encode(), b"tmpfs", flags, options), f"tmpfs on {cover}")
    done: list[str] = []
    for path in sorted(back):
        if any(path == d or path.startswith(d + "/") for d in done):
            continue
        os.makedirs(path, mode=0o755, exist_ok=True)
        source = f"/proc/self/fd/{held[path]}".encode()
        _check(libc.mount(source, path.encode(), None, _MS_BIND | _MS_REC, None), f"binding {path}")
        done.append(path)
    for fd in held.values():
        os.close(fd)
    # Its own PID namespace, its own /proc; but a /proc with masked parts (a container's) cannot
    # be mounted again from a user namespace
    with contextlib.suppress(OSError):
        flags = _MS_NOSUID | _MS_NODEV | _MS_NOEXEC
        _check(libc.mount(b"proc", b"/proc", b"proc", flags, None), "proc")
    work = "/tmp/work"
    os.makedirs(work, mode=0o700, exist_ok=True)
    os.chown(work, uid, gid)
    os.environ["HOME"] = os.environ["TMPDIR"] = work


def _blocked(path: str, uid: int, gid: int) -> str | None:
    """The outermost folder on the way to ``path`` that the user ``uid`` may not pass, if any."""
    parts = path.strip("/").split("/")
    for i in range(1, len(parts)):
        folder = "/" + "/".join(parts[:i])
        info = os.stat(folder)
        if info.st_uid == uid:
            bit = stat.S_IXUSR
        elif info.st_gid == gid:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not info.st_mode & bit:
            return folder
    return None


def _read_only(libc: Any) -> None:
    """Every mount of this namespace made read-only (bind remounts), as far as they may be."""
    with open("/proc/self/mountinfo") as file:
        points = [line.split()[4] for line in file]
    for point in points:
        decoded = point.encode().decode("unicode_escape")
        with contextlib.suppress(OSError):
            flags = _MS_REMOUNT | _MS_BIND | _MS_RDONLY
            _check(libc.mount(None, decoded.encode(), None, flags, None), decoded)


def drop(argument: str) -> None:
    """In the worker, after its own imports and before any of the judged code: no way back.

    Output and file sizes limited; as root, the worker user for good; in a user namespace,
    every capability dropped; in every namespace mode, no new privileges (no setuid binary).
    """
    settings = json.loads(os.environ.pop(_FALLBACK, "") or argument)
    resource.setrlimit(resource.RLIMIT_FSIZE, (OUTPUT_LIMIT, OUTPUT_LIMIT))
    mode = settings["mode"]
    if mode == "none":
        return
    libc = _libc()
    if mode == "root" and settings["uid"] != 0:
        os.setgroups([])
        os.setgid(settings["gid"])
        os.setuid(settings["uid"])
    elif mode == "user":
        _no_capabilities(libc)
    _check(libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no new privileges")
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # a change of user clears it


def _no_capabilities(libc: Any) -> None:
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this thread
    data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable: twice, all zero
    _check(libc.capset(header, data), "dropping capabilities")


def _join(procs: list[str]) -> None:
    """The worker (root, before its fork) in its cgroup: everything it starts after is too."""
    for path in procs:
        with open(path, "w") as file:
            file.write(str(os.getpid()))
