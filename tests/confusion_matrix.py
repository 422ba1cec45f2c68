"""The checker's confusion matrix over the planted mistakes, as docs/checking.md shows it.

Rows: each catalogued mistake planted (tests/planted.py) in every API it applies to, in both
dtypes (float64 only for float32-buffers), the planted pairs, the pairs inside one backward and
the groups of three (:data:`COMBINED`), and the correct code; columns: the
names the checker gave. Run ``python tests/confusion_matrix.py`` from the repository's root: it
prints the matrix as Markdown, with its totals and the time the pairs' search took.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import planted

from reference_rnn.checker.apis import APIS
from reference_rnn.checker.battery import DTYPES
from reference_rnn.checker.catalogue import CATALOGUE
from reference_rnn.checker.runner import run

#: Planted pairs: a forward mistake with a backward one, as people make them together.
PAIRS = [
    ("missing-bias", "derivative-of-preactivation"),
    ("ignores-initial-state", "gradients-averaged-over-batch"),
    ("recurrent-weight-transposed", "no-gradient-through-time"),
    ("missing-bias", "initial-state-gradient-missing"),
]
#: Planted in every API each applies to: two mistakes inside one backward written by hand, and
#: groups of three (one of three forward mistakes for d2l, whose backward is torch's autograd).
COMBINED = [
    ("tanh-derivative-applied-twice", "dWh-uses-current-state"),
    ("no-gradient-through-time", "dWh-missing-initial-state-term"),
    ("tanh-derivative-of-output", "weight-gradients-overwritten"),
    ("missing-bias", "tanh-derivative-applied-twice", "dWh-uses-current-state"),
    ("ignores-initial-state", "no-gradient-through-time", "gradients-averaged-over-batch"),
    ("missing-bias", "ignores-initial-state", "recurrent-weight-transposed"),
    ("recurrent-weight-transposed", "ignores-initial-state", "last-step-not-computed"),
]


def rows() -> list[tuple[str, str, str]]:
    """(planted, api, dtype) for every row; ``planted`` is an id, ids joined by +, or ``correct``."""
    found = [
        (mistake.id, api, dtype)
        for mistake in CATALOGUE
        if mistake.id != "imports-the-reference"  # the worker's to see: tests/test_check_verdict.py
        for api in sorted(mistake.apis)
        for dtype in (("float64",) if mistake.float32_values else DTYPES)
    ]
    found += [("+".join(p), "cs231n", dtype) for p in PAIRS for dtype in DTYPES]
    found += combined_rows()
    found += [("correct", api, dtype) for api in APIS for dtype in DTYPES]
    return found


def combined_rows() -> list[tuple[str, str, str]]:
    """(planted, api, dtype) for each of :data:`COMBINED` in every API where all its mistakes
    apply, in both dtypes."""
    apis = {mistake.id: mistake.apis for mistake in CATALOGUE}
    return [
        ("+".join(group), api, dtype)
        for group in COMBINED
        for api in sorted(frozenset.intersection(*(apis[m] for m in group)))
        for dtype in DTYPES
    ]


def named(mistake: str, api: str, dtype: str) -> list[str]:
    """The names the checker gives the code with ``mistake`` planted."""
    if mistake == "correct":
        obj = planted.make(api)
    elif "+" in mistake:
        obj = planted.make(api, tuple(mistake.split("+")))
    else:
        obj = planted.make(api, mistake)
    return [d.mistake for d in run(obj, api=api, dtype=dtype, seed=0).diagnoses]


COLUMNS = [(api, dtype) for api in APIS for dtype in DTYPES]


def exact(planted_as: str, names: list[str]) -> bool:
    """Named alone, or as the pair or group of three; correct code named nothing."""
    return sorted(names) == ([] if planted_as == "correct" else sorted(planted_as.split("+")))


def main() -> None:
    start = time.perf_counter()
    results = {row: named(*row) for row in rows()}
    took = time.perf_counter() - start
    print("| planted | " + " | ".join(f"{api} {dtype[5:]}" for api, dtype in COLUMNS) + " |")
    print("|---" * (len(COLUMNS) + 1) + "|")
    for mistake in dict.fromkeys(row[0] for row in results):
        cells = []
        for api, dtype in COLUMNS:
            names = results.get((mistake, api, dtype))
            if names is None:
                cells.append("")  # does not apply
            else:
                cells.append("✓" if exact(mistake, names) else ", ".join(names) or "nothing")
        print(f"| `{mistake}` | " + " | ".join(cells) + " |")
    planted_rows = [row for row in results if row[0] != "correct"]
    right = sum(exact(row[0], results[row]) for row in planted_rows)
    correct = [names for row, names in results.items() if row[0] == "correct"]
    columns = Counter(name for names in results.values() for name in names)
    print()
    print(
        f"Totals: {len(planted_rows)} planted rows, {right} named exactly (alone, or together), "
        f"{len(planted_rows) - right} otherwise; {len(correct)} rows of correct code, "
        f"{sum(bool(n) for n in correct)} named anything; {len(columns)} distinct names given; "
        f"{took:.0f} s in all."
    )


if __name__ == "__main__":
    main()
