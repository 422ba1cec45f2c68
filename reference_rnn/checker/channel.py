"""The private channel between the checker and its worker process: messages over two pipes.

A message is a JSON header and the arrays it refers to by position, each as the bytes of a
``.npy`` file, read back with ``allow_pickle=False``; every part is framed by its length,
``<u32 length><bytes>``. Nothing of it passes through the worker's stdout or stderr, which hold
what the code under test prints. The reader trusts nothing: a message that is cut short, longer
than the reader allows, or not in this format is a :class:`ChannelError`.
"""

from __future__ import annotations

import io
import json
import os
import struct
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from reference_rnn.core.validation import FloatArray

__all__ = ["ChannelError", "decode", "encode", "reader", "write_all"]

_LENGTH = struct.Struct("<I")
_MAX_ARRAYS = 64


class ChannelError(Exception):
    """A message that cannot be read: cut short, too long, or not in the channel's format."""


def encode(header: dict[str, Any], arrays: Sequence[FloatArray] = ()) -> bytes:
    """``header`` (JSON) and ``arrays`` (float32 or float64) as one message."""
    parts = [json.dumps({**header, "arrays": len(arrays)}).encode()]
    for array in arrays:
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        parts.append(buffer.getvalue())
    return b"".join(_LENGTH.pack(len(part)) + part for part in parts)


def decode(read: Callable[[int], bytes], limit: int) -> tuple[dict[str, Any], list[FloatArray]]:
    """One message, by ``read(n)`` (exactly n bytes, or EOFError), of at most ``limit`` bytes."""
    budget = [limit]
    try:
        header = json.loads(_frame(read, budget))
    except (ValueError, RecursionError):
        msg = "its header is not JSON"
        raise ChannelError(msg) from None
    count = header.get("arrays") if isinstance(header, dict) else None
    if not isinstance(count, int) or not 0 <= count <= _MAX_ARRAYS:
        msg = "its header is not an object with a number of arrays"
        raise ChannelError(msg)
    return header, [_array(_frame(read, budget)) for _ in range(count)]


def _frame(read: Callable[[int], bytes], budget: list[int]) -> bytes:
    (length,) = _LENGTH.unpack(read(_LENGTH.size))
    budget[0] -= _LENGTH.size + length
    if budget[0] < 0:
        msg = "it is longer than the checker allows"
        raise ChannelError(msg)
    return read(length)


def _array(data: bytes) -> FloatArray:
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except Exception:  # noqa: BLE001  (whatever the bytes are, they are not a .npy file)
        array = None
    if not isinstance(array, np.ndarray) or array.dtype not in (np.float32, np.float64):
        msg = "an array in it is not a .npy file of float32 or float64"
        raise ChannelError(msg)
    return array


def reader(fd: int) -> Callable[[int], bytes]:
    """``read(n)`` on a blocking file descriptor: exactly n bytes, or EOFError."""

    def read(n: int) -> bytes:
        data = bytearray()
        while len(data) < n:
            chunk = os.read(fd, n - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return bytes(data)

    return read


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to a blocking file descriptor."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
