"""What the hostile tests ask of a process the judged code started, and how long to wait for one."""

from __future__ import annotations

import fcntl
import functools
import itertools
import os
import time
from pathlib import Path

CORRECT = Path(__file__).parents[1] / "examples" / "cs231n_rnn_layers.py"


def alive(pid: int) -> bool:
    """Whether ``pid`` runs: a zombie waits for a parent that may never reap it, so it is dead."""
    try:
        os.kill(pid, 0)
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (ProcessLookupError, FileNotFoundError):  # reaped between the two looks, too
        return False
    return state != "Z"


#: What judged code runs to hold ``LOCK`` (a file beside it) as long as it, or a process it
#: started, runs: a shared flock, held by every process that shares the open file.
HOLD = (
    "import fcntl\n"
    "hold = open(__file__ + '.lock')\n"
    "fcntl.flock(hold, fcntl.LOCK_SH)\n"
    "open(__file__ + '.held', 'w').close()\n"
)


def held(lock: Path, within: float = 0.0) -> bool:
    """Whether a process still holds ``lock`` (as :data:`HOLD` takes it) after ``within`` s.

    Seen the same from every PID and mount namespace: the judged code's PIDs are its namespace's.
    """
    deadline = time.monotonic() + within
    with lock.open("rb") as file:
        while True:
            try:
                fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return True
                time.sleep(0.01)
                continue
            fcntl.flock(file, fcntl.LOCK_UN)
            return False


@functools.cache
def call_limit() -> float:
    """A ``--timeout`` that no correct call or load comes near on this machine, as loaded as it is.

    Measured, once per test process, on a correct check: 50 times the longest time between two of
    its calls (a call, and the checker's comparison; loading a small module costs no more), at least
    0.5 s. A test that waits for a hang waits this long.
    """
    from reference_rnn.checker.sandbox import check_target

    seen = [time.monotonic()]
    check_target(
        str(CORRECT), api="cs231n", seed=0, observe=lambda *_: seen.append(time.monotonic())
    )
    gaps = [b - a for a, b in itertools.pairwise(seen[1:])]
    return round(max(0.5, 50 * max(gaps)), 1)
