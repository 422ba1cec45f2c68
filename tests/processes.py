"""What the hostile tests ask of a process the judged code started, and how long to wait for one."""

from __future__ import annotations

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
