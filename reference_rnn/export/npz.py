"""``.npy`` and ``.npz`` bytes that depend on the arrays only: not on NumPy's version, nor the clock.

``numpy.save`` formats the header with the running NumPy (its padding and spelling have changed
between releases) and ``numpy.savez`` stamps each member with the current time, so two exports of
the same arrays would differ. Here the header is written by hand, in the form every NumPy reads::

    b"\\x93NUMPY" 1 0 <uint16 little-endian: header length>
    {'descr': '<f8', 'fortran_order': False, 'shape': (4, 6, 3), } <spaces> \\n

padded so that the data starts at a multiple of 64 bytes; then the array's bytes, C order,
little-endian. The ``.npz`` is a zip of such files named ``<array>.npy``, stored (not compressed),
each member's sizes in its local header (no data descriptor, no zip64), dated 1980-01-01: a reader
can walk the local headers from the start of the file with nothing but the zip specification.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

__all__ = ["DESCR", "npy_bytes", "npz_bytes"]

#: The dtypes a case file holds, and their ``.npy`` descr.
DESCR = {"float64": "<f8", "float32": "<f4", "int64": "<i8"}
_ALIGN = 64
_PREFIX = 10  # magic (6), version (2), header length (2)
_EPOCH = (1980, 1, 1, 0, 0, 0)  # the zip format's earliest date


def npy_bytes(a: NDArray[np.generic]) -> bytes:
    """``a`` as a version 1.0 ``.npy`` file: float64, float32 or int64, C order, little-endian."""
    descr = DESCR[str(a.dtype)]
    dims = ", ".join(str(n) for n in a.shape) + ("," if a.ndim == 1 else "")
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': ({dims}), }}"
    padding = -(_PREFIX + len(header) + 1) % _ALIGN
    text = (header + " " * padding + "\n").encode("latin1")
    data = np.ascontiguousarray(a, dtype=np.dtype(descr)).tobytes()
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text + data


def npz_bytes(arrays: Mapping[str, NDArray[np.generic]]) -> bytes:
    """A zip of ``<name>.npy`` for every array, in the mapping's order, stored and undated."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, a in arrays.items():
            member = zipfile.ZipInfo(f"{name}.npy", date_time=_EPOCH)
            member.create_system = 3  # Unix, whichever system writes it
            member.external_attr = 0o644 << 16
            archive.writestr(member, npy_bytes(a))
    return buffer.getvalue()
