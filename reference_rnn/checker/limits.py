"""The checker's numeric options, range-checked before anything runs.

One check per kind of number, for every front door: ``check``'s ``--timeout`` and
``--memory-limit`` (a usage error, exit 2), :class:`~reference_rnn.checker.sandbox.Limits` and
``testing.check``'s arguments (ValueError naming the argument), the pytest plugin's
``--rnn-timeout`` and ``--rnn-memory-limit`` (``pytest.UsageError``). Each raises ValueError with
what the number must be; :func:`named` puts the name in front. NaN, infinity, a bool, a value out
of range and (for counts) a fraction are refused; so is a number too large to mean anything (a
timeout of more than a day, more memory than a machine has), which would otherwise be taken as
"no limit" or overflow where the limit is set.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import TypeVar

__all__ = ["MOST_MEGABYTES", "MOST_SECONDS", "count", "megabytes", "named", "parsed", "seconds"]

_T = TypeVar("_T")

#: A day: more is no time limit at all (``--timeout 1e400`` would be infinity).
MOST_SECONDS = 86400.0
#: 16 TiB: more than any machine the check runs on; 0 is "no limit".
MOST_MEGABYTES = 1 << 24


def seconds(value: object) -> float:
    """A time limit: a finite number of seconds, more than 0 and at most a day."""
    number = _number(value)
    if number is None or not 0 < number <= MOST_SECONDS:
        msg = f"must be more than 0 and at most {MOST_SECONDS:g} seconds"
        raise ValueError(msg)
    return number


def megabytes(value: object) -> int:
    """A memory limit: a whole number of megabytes, 0 (no limit) to 16 TiB."""
    number = _whole(value)
    if number is None or not 0 <= number <= MOST_MEGABYTES:
        msg = f"must be a whole number of megabytes from 0 (no limit) to {MOST_MEGABYTES}"
        raise ValueError(msg)
    return number


def count(value: object, least: int, most: int) -> int:
    """A count from ``least`` to ``most``."""
    number = _whole(value)
    if number is None or not least <= number <= most:
        msg = f"must be a whole number from {least} to {most}"
        raise ValueError(msg)
    return number


def named(name: str, check: Callable[[object], object], value: object) -> None:
    """``check(value)``, its ValueError naming ``name`` and the value (``timeout must be ...``)."""
    try:
        check(value)
    except ValueError as exc:
        msg = f"{name} {exc}, got {value!r}"
        raise ValueError(msg) from None


def parsed(text: str, check: Callable[[object], _T], *, whole: bool) -> _T:
    """A command line's number, checked: ValueError ``must be ..., got TEXT`` as it was given."""
    try:
        number: object = int(text) if whole else float(text)
    except ValueError:
        number = text  # no number: refused by the check, with what it must be
    try:
        return check(number)
    except ValueError as exc:
        msg = f"{exc}, got {text}"
        raise ValueError(msg) from None


def _number(value: object) -> float | None:
    """``value`` as a finite float, None for a bool, NaN, infinity or no real number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an int of more than 308 digits
        return None
    return number if math.isfinite(number) else None


def _whole(value: object) -> int | None:
    """``value`` as an int (NumPy's integers too), None for a bool or anything else."""
    if isinstance(value, bool):
        return None
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        return None
