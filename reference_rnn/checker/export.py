"""``python -m reference_rnn export DIR``: the check cases as files any language can read.

One ``.npz`` per case and dtype (``{case}.{dtype}.npz``: a zip of ``.npy`` arrays, C order,
little-endian, uncompressed) holding the inputs ``x``, ``h0``, ``Wx``, ``Wh``, ``b``, ``dh`` and
the expected ``h``, ``dx``, ``dh0``, ``dWx``, ``dWh``, ``db``, all in the case's dtype (expected
values computed in float64, then rounded once), and ``index.json``: every file with its shapes,
dtype and tolerance, the layout of each array and the error measure. An implementation in C++,
CUDA or Rust can then test itself with no Python at run time (docs/checking.md shows how to read
them).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from reference_rnn.checker.battery import DTYPES, KEYS, battery
from reference_rnn.core.measure import TOLERANCE

__all__ = ["ARRAYS", "add_arguments", "command", "write"]

#: Every array of a case file: its layout and what it is.
ARRAYS: dict[str, tuple[str, str]] = {
    "x": ("(N, T, D)", "input: the sequences, batch-first"),
    "h0": ("(N, H)", "input: the initial state"),
    "Wx": ("(D, H)", "input: a_t = x_t @ Wx + h_{t-1} @ Wh + b"),
    "Wh": ("(H, H)", "input"),
    "b": ("(H,)", "input"),
    "dh": (
        "(N, T, H)",
        "input: dL/dh_t from above, at every step (an arbitrary upstream gradient)",
    ),
    "h": ("(N, T, H)", "expected: h_t = tanh(a_t) for every step"),
    "dx": ("(N, T, D)", "expected: dL/dx"),
    "dh0": ("(N, H)", "expected: dL/dh0"),
    "dWx": ("(D, H)", "expected: dL/dWx"),
    "dWh": ("(H, H)", "expected: dL/dWh"),
    "db": ("(H,)", "expected: dL/db"),
}
_INPUTS = ("x", "h0", "Wx", "Wh", "b", "dh")


def write(directory: Path, dtypes: tuple[str, ...] = DTYPES, seed: int = 0) -> Path:
    """Write the battery's cases (one call each) in every dtype, and ``index.json``; its path."""
    directory.mkdir(parents=True, exist_ok=True)
    entries = []
    for dtype in dtypes:
        for case in battery(dtype, seed=seed):
            N, T, D, H = case.shape
            arrays = dict(
                zip(_INPUTS, (case.x, case.h0, case.Wx, case.Wh, case.b, case.dh), strict=True)
            )
            arrays |= {key: case.expected[key].astype(dtype) for key in KEYS}
            little = {
                name: np.ascontiguousarray(a, dtype=np.dtype(dtype).newbyteorder("<"))
                for name, a in arrays.items()
            }
            filename = f"{case.name}.{dtype}.npz"
            np.savez(directory / filename, **little)  # type: ignore[arg-type]
            entries.append(
                {
                    "name": case.name,
                    "about": case.about,
                    "file": filename,
                    "dtype": dtype,
                    "tolerance": TOLERANCE[dtype],
                    "N": N,
                    "T": T,
                    "D": D,
                    "H": H,
                    "shapes": {name: list(a.shape) for name, a in little.items()},
                }
            )
    index = {
        "format": "reference_rnn check cases, version 1",
        "equations": "a_t = x_t @ Wx + h_{t-1} @ Wh + b; h_t = tanh(a_t); h_{-1} = h0",
        "loss": "the gradients are those of sum(h * dh): dh is dL/dh at every step",
        "error": "max|actual - expected| / max|expected| (max|actual - expected| where expected "
        "is all zero) must not exceed the case's tolerance",
        "storage": "each file is a .npz (zip of .npy v1.0 files named <array>.npy, stored "
        "uncompressed), C order, little-endian, in the case's dtype",
        "arrays": {
            name: {"layout": layout, "meaning": meaning}
            for name, (layout, meaning) in ARRAYS.items()
        },
        "cases": entries,
    }
    path = directory / "index.json"
    path.write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")
    return path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``export``'s arguments."""
    parser.add_argument("directory", metavar="DIR", type=Path, help="where to write (created)")
    parser.add_argument(
        "--dtype", choices=DTYPES, action="append", help="only this dtype (default: both)"
    )


def command(args: argparse.Namespace) -> int:
    """Write the files; print where and how many."""
    dtypes = tuple(args.dtype) if args.dtype else DTYPES
    index = write(args.directory, dtypes)
    cases: list[dict[str, Any]] = json.loads(index.read_text(encoding="utf-8"))["cases"]
    sys.stdout.write(f"wrote {len(cases)} cases ({', '.join(dtypes)}) and {index}\n")
    return 0
