# ruff: noqa: PTH102, PTH106, PTH110, PTH112, PTH118, PTH120, PTH123, PTH208
"""The worker's cgroup, as root: the memory of the whole group, its number of processes, its end.

Standard library only. The checker makes a :class:`Group` for each worker before it starts it;
the worker joins it first thing (:func:`reference_rnn.checker.boundary.enter`, as root, before it
forks its waiter), so that everything it starts is in it; the checker reads the kernel's counts
of a broken limit while it waits (:meth:`Group.breach`), and removes the group when the worker
has ended (:meth:`Group.remove`). docs/checking.md, "Threat model", says how the figures are found.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time

__all__ = ["NO_CGROUP", "Group", "process_limit"]

#: Set (to anything) to check as root without a cgroup (per-process limits only), for tests.
NO_CGROUP = "REFERENCE_RNN_NO_CGROUP"


#: A process limit for the worker's group: the waiter, the namespace's first process and the
#: worker, one thread per CPU for each of the pools a correct check may start (NumPy's BLAS; torch's
#: intra-op, inter-op and autograd threads), and room for a few processes of the code's own. (A
#: thread counts as a process here.)
PROCESSES_BASE, PROCESSES_PER_CPU = 32, 4


def process_limit() -> int:
    """The most processes and threads the worker's group may hold at once (:data:`PROCESSES_BASE`)."""
    return PROCESSES_BASE + PROCESSES_PER_CPU * (os.cpu_count() or 1)


def _mounts_of_cgroups() -> tuple[dict[str, tuple[str, str]], tuple[str, str] | None]:
    """The cgroup v1 hierarchies by controller, and cgroup2's: (mount point, the mount's root)."""
    v1: dict[str, tuple[str, str]] = {}
    v2 = None
    with open("/proc/self/mountinfo") as file:
        for line in file:
            fields = line.split()
            if "-" not in fields:
                continue
            rest = fields[fields.index("-") + 1 :]
            point = fields[4].encode().decode("unicode_escape")
            if rest[0] == "cgroup2" and v2 is None:
                v2 = (point, fields[3])
            elif rest[0] == "cgroup" and len(rest) > 2:
                for option in rest[2].split(","):
                    v1.setdefault(option, (point, fields[3]))
    return v1, v2


def _own_paths() -> dict[str, str]:
    """This process's cgroup in each hierarchy, by controller ("" for cgroup2's)."""
    paths: dict[str, str] = {}
    with open("/proc/self/cgroup") as file:
        for line in file:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for controller in controllers.split(",") if controllers else [""]:
                paths[controller] = path
    return paths


def _under(mount: tuple[str, str], path: str) -> str | None:
    """The folder of cgroup ``path`` under ``mount`` (point, root), if the mount shows it."""
    point, root = mount
    if root != "/" and not (path == root or path.startswith(root + "/")):
        return None
    relative = path[len(root) :] if root != "/" else path
    folder = point + relative.rstrip("/")
    return folder if os.path.isdir(folder) else None


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _read(path: str) -> str:
    with open(path) as file:
        return file.read()


def _field(text: str, name: str) -> int:
    """The value of ``name`` in a flat-keyed cgroup file ("name value" lines), 0 if absent."""
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == name and value.strip().isdigit():
            return int(value)
    return 0


class Group:
    """A cgroup made for one worker: its memory and process limits, their breaches, its end.

    Made by the checker (root) before the worker starts, under the checker's own cgroup so that
    the limits above it still hold; the worker joins it first thing
    (:func:`~reference_rnn.checker.boundary.enter`), before it forks its waiter, so everything it
    starts is in it. cgroup2 where its ``memory`` and ``pids`` controllers are enabled for the new
    group; else cgroup v1's ``memory`` and ``pids`` hierarchies, each where it is mounted
    writable. :meth:`make` gives None where none is.
    """

    def __init__(self, version: int, memory: str | None, pids: str | None) -> None:
        self.version, self.memory, self.pids = version, memory, pids
        self.folders = list(dict.fromkeys(f for f in (memory, pids) if f))
        self.processes = 0  # the process limit, once set
        self.megabytes = 0  # the memory limit the checker was given, once set

    @classmethod
    def make(cls, name: str) -> Group | None:
        """A new group ``name`` with a process limit (:func:`process_limit`), or None."""
        if sys.platform != "linux" or os.geteuid() != 0 or os.environ.get(NO_CGROUP):
            return None
        try:
            v1, v2 = _mounts_of_cgroups()
            own = _own_paths()
        except (OSError, ValueError):
            return None
        group = cls._v2(name, v2, own[""]) if v2 and "" in own else None
        if group is None:
            folders = [cls._made(v1, own, controller, name) for controller in ("memory", "pids")]
            group = cls(1, *folders) if any(folders) else None
        if group is not None and not group._limit_processes():
            group.remove()
            return None
        return group

    @classmethod
    def _v2(cls, name: str, mount: tuple[str, str], path: str) -> Group | None:
        """In cgroup2: under our own cgroup, else beside it (a non-root cgroup with processes
        cannot give its children controllers), where memory and pids are given to the new one."""
        base = _under(mount, path)
        if base is None:
            return None
        for parent in [base] if base == mount[0] else [base, os.path.dirname(base)]:
            _sweep(parent)
            folder = os.path.join(parent, name)
            try:
                os.mkdir(folder, 0o755)
            except OSError:
                continue
            if all(os.path.exists(os.path.join(folder, f)) for f in ("memory.max", "pids.max")):
                return cls(2, folder, folder)
            with contextlib.suppress(OSError):
                os.rmdir(folder)
        return None

    @staticmethod
    def _made(
        v1: dict[str, tuple[str, str]], own: dict[str, str], controller: str, name: str
    ) -> str | None:
        if controller not in v1 or controller not in own:
            return None
        parent = _under(v1[controller], own[controller])
        if parent is None:
            return None
        _sweep(parent)
        folder = os.path.join(parent, name)
        try:
            os.mkdir(folder, 0o755)
        except OSError:
            return None
        return folder

    def procs(self) -> list[str]:
        """The files the worker writes its PID to, to join the group."""
        return [os.path.join(folder, "cgroup.procs") for folder in self.folders]

    def _limit_processes(self) -> bool:
        if self.pids is None:
            return True
        try:
            _write(os.path.join(self.pids, "pids.max"), str(process_limit()))
        except OSError:
            return False
        self.processes = process_limit()
        return True

    def limit_memory(self, megabytes: int) -> None:
        """At most ``megabytes`` more memory for the whole group than it holds now (the worker
        ready: its interpreter, NumPy and the checker's modules), swap included."""
        if self.memory is None or megabytes <= 0:
            return
        try:
            total = self._usage() + megabytes * 2**20
            if self.version == 2:
                settings = [("memory.max", total), ("memory.swap.max", 0), ("memory.oom.group", 1)]
            else:
                settings = [
                    ("memory.limit_in_bytes", total),
                    ("memory.memsw.limit_in_bytes", total),
                ]
            for name, value in settings:
                path = os.path.join(self.memory, name)
                if os.path.exists(path) or name in ("memory.max", "memory.limit_in_bytes"):
                    _write(path, str(value))
        except OSError:
            return
        self.megabytes = megabytes

    def _usage(self) -> int:
        assert self.memory is not None
        name = "memory.current" if self.version == 2 else "memory.usage_in_bytes"
        return int(_read(os.path.join(self.memory, name)))

    def breach(self) -> str | None:
        """Why the group broke one of its limits (the kernel's counts in it), if it has."""
        oom = "memory.events" if self.version == 2 else "memory.oom_control"
        try:
            if self.memory and self.megabytes and _field(_read(f"{self.memory}/{oom}"), "oom_kill"):
                return (
                    f"the worker's processes together used more than {self.megabytes} MB "
                    "(--memory-limit): the system ended one of them"
                )
            if self.pids and self.processes and _field(_read(f"{self.pids}/pids.events"), "max"):
                return (
                    f"the worker's processes reached the process limit ({self.processes} "
                    "processes and threads in all): one could not start"
                )
        except OSError:
            return None
        return None

    def remove(self) -> None:
        """Every process in the group killed, and the group gone; never an error (said on stderr)."""
        for folder in self.folders:
            for _ in range(200):
                try:
                    os.rmdir(folder)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    self._kill(folder)
                    time.sleep(0.005)
            else:
                sys.stderr.write(f"reference-rnn check: could not remove the cgroup {folder}\n")

    def _kill(self, folder: str) -> None:
        with contextlib.suppress(OSError):
            if os.path.exists(os.path.join(folder, "cgroup.kill")):
                _write(os.path.join(folder, "cgroup.kill"), "1")
                return
            for pid in _read(os.path.join(folder, "cgroup.procs")).split():
                with contextlib.suppress(OSError):
                    os.kill(int(pid), signal.SIGKILL)


def _sweep(parent: str) -> None:
    """The empty groups left in ``parent`` by checkers that were killed (``reference-rnn-PID-N``
    of a PID that is no longer running) removed."""
    with contextlib.suppress(OSError):
        for entry in os.listdir(parent):
            _, _, rest = entry.partition("reference-rnn-")
            pid = rest.split("-")[0]
            if (
                not pid.isdigit()
                or entry != f"reference-rnn-{rest}"
                or os.path.exists(f"/proc/{pid}")
            ):
                continue
            with contextlib.suppress(OSError):
                os.rmdir(os.path.join(parent, entry))
