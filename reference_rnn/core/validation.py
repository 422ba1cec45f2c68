"""Argument checks shared by every public entry point.

Each check names the argument as the caller spelled it and says what was expected and what came,
so that a wrong call fails here, in words, and never as an IndexError or a broadcasting error deep
inside the math.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.floating[Any]]
#: The floating dtypes the package computes in and is checked in, by name, float64 first.
DTYPES = ("float64", "float32")
#: a position in a list of arrays, or a key in a dict of them
Key = int | str


class NonFiniteResultError(FloatingPointError):
    """A result that overflowed (inf) or became NaN from finite arguments.

    ``what`` names the result (``"the pre-activation"``, ``"the gradient dWx"``); ``step`` is the
    first time step where it went wrong (None where a result has no steps), ``row`` the first
    sequence of the batch there, ``where`` the caller's context (``"layer 0, reverse
    direction"``). A subclass of ``FloatingPointError``, NumPy's exception for the same thing.
    """

    def __init__(
        self,
        what: str,
        dtype: object,
        detail: str,
        step: int | None = None,
        row: int = 0,
        where: str = "",
    ) -> None:
        self.what, self.dtype, self.detail = what, dtype, detail
        self.step, self.row, self.where = step, row, where
        at = "" if step is None else f" at time step {step}"
        context = f" ({where})" if where else ""
        super().__init__(
            f"{what} overflowed{at}{context}: {detail} in {dtype} from finite arguments "
            "(check_finite=False skips this check)"
        )

    def relocated(
        self, *, what: str | None = None, step: int | None = None, where: str = ""
    ) -> NonFiniteResultError:
        """The same error in the caller's terms: its name for the result, step and context."""
        return NonFiniteResultError(
            self.what if what is None else what,
            self.dtype,
            self.detail,
            self.step if step is None else step,
            self.row,
            where,
        )


def as_array(name: str, value: object) -> NDArray[Any]:
    """``np.asarray(value)``, with a TypeError naming ``name`` where NumPy cannot convert it.

    A masked array is refused: ``np.asarray`` would silently drop its mask. A torch tensor is
    taken as its values (:func:`tensor_values`).
    """
    if type(value) is np.ndarray:  # the common case first: nothing to convert or refuse
        return value
    if _is_torch_tensor(value):
        return tensor_values(name, value)
    if isinstance(value, np.ma.MaskedArray):
        msg = (
            f"{name} must not be a masked array (its mask would be ignored): pass "
            f"{name}.filled(value), or give the valid lengths with lengths="
        )
        raise TypeError(msg)
    try:
        return np.asarray(value)
    except ValueError as exc:  # ragged nested sequences, on NumPy >= 1.24
        msg = f"{name} must be array_like, got a {type(value).__name__} that is not: {exc}"
        raise TypeError(msg) from None


def _is_torch_tensor(value: object) -> bool:
    """A ``torch.Tensor`` (or a ``Parameter``), recognised without importing torch."""
    module = type(value).__module__
    return (module == "torch" or module.startswith("torch.")) and all(
        hasattr(value, attribute) for attribute in ("detach", "numpy", "dtype")
    )


def tensor_values(name: str, tensor: Any) -> NDArray[Any]:
    """A torch tensor's values as a NumPy array: what ``np.asarray`` would give a plain one.

    Detached from autograd and brought to the CPU (a copy only where it is elsewhere); a floating
    dtype NumPy lacks (bfloat16, the float8 types) widened to float32, which holds its every value.
    A tensor that has no values to give (on the meta device, sparse) is a TypeError naming ``name``.
    """
    dtype = str(tensor.dtype).removeprefix("torch.")
    try:
        tensor = tensor.detach()
        if tensor.is_floating_point() and dtype not in ("float16", "float32", "float64"):
            tensor = tensor.float()
        return np.asarray(tensor.numpy(force=True))
    except (TypeError, RuntimeError, NotImplementedError, ValueError) as exc:
        msg = (
            f"{name} must be array_like: a torch tensor of dtype {dtype} on {tensor.device} "
            f"whose values NumPy cannot take ({exc})"
        )
        raise TypeError(msg) from None


def as_real_array(name: str, value: object) -> FloatArray:
    """``value`` as a floating NumPy array; integer and bool arrays become float64.

    Complex, object, string and other non-real arrays are a TypeError. The result may share
    memory with ``value``: callers that keep it copy it.
    """
    arr = as_array(name, value)
    if arr.dtype.kind in "biu":
        return arr.astype(np.float64)
    if arr.dtype.kind != "f":
        msg = f"{name} must be a real floating or integer array, got dtype {arr.dtype}"
        raise TypeError(msg)
    return arr


def check_ndim(name: str, arr: FloatArray, ndim: int, layout: str) -> None:
    """``arr`` has ``ndim`` axes, named by ``layout`` (for example ``"(N, T, D)"``)."""
    if arr.ndim != ndim:
        msg = f"{name} must be {ndim}-D {layout}, got {arr.ndim}-D array of shape {arr.shape}"
        raise ValueError(msg)


def check_shape(name: str, arr: FloatArray, expected: Sequence[int], why: str = "") -> None:
    """``arr.shape == expected``; ``why`` says where the expected sizes come from."""
    if arr.shape != tuple(expected):
        reason = f" ({why})" if why else ""
        msg = f"{name} must have shape {tuple(expected)}{reason}, got {arr.shape}"
        raise ValueError(msg)


def require_finite(name: str, arr: FloatArray) -> None:
    """No NaN or inf in ``arr``."""
    if not np.isfinite(arr).all():
        msg = f"{name} must be finite, got an array with NaN or inf"
        raise ValueError(msg)


def cast_finite(name: str, arr: NDArray[Any], dtype: np.dtype[Any], why: str) -> FloatArray:
    """``arr`` as a new array of ``dtype``, finite there: checked after the cast, not before.

    ``why`` says where ``dtype`` comes from (``"the layer's dtype"``); a finite value that the
    cast makes inf (1e300 in float32) is a ValueError that says so.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        cast = np.array(arr, dtype=dtype)
    if not np.isfinite(cast).all():
        if np.isfinite(arr).all():
            msg = (
                f"{name} must be finite in {dtype} ({why}), got values that overflow it "
                f"(largest magnitude {np.abs(arr).max()!r})"
            )
        else:
            msg = f"{name} must be finite, got an array with NaN or inf"
        raise ValueError(msg)
    return cast


def check_seed(name: str, seed: object) -> np.random.Generator:
    """``np.random.default_rng(seed)``, with an error naming ``name`` where NumPy refuses it."""
    if isinstance(seed, bool | float | str | bytes):
        msg = f"{name} must be an int, a numpy.random.Generator or None, got {seed!r}"
        raise TypeError(msg)
    try:
        return np.random.default_rng(seed)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        msg = f"{name} must be an int >= 0, a numpy.random.Generator or None, got {seed!r}: {exc}"
        raise type(exc)(msg) from None


def check_flag(name: str, value: object) -> bool:
    """A bool (NumPy's too): a string such as "no" would otherwise silently mean True."""
    if not isinstance(value, bool | np.bool_):
        msg = f"{name} must be a bool, got {type(value).__name__}"
        raise TypeError(msg)
    return bool(value)


def check_size(name: str, value: object) -> int:
    """A positive int (a bool is not a size, though torch lets one through)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        msg = f"{name} should be of type int, got: {type(value).__name__}"
        raise TypeError(msg)
    if value <= 0:
        msg = f"{name} must be greater than zero, got {value}"
        raise ValueError(msg)
    return int(value)


def check_real(name: str, value: object) -> float:
    """A finite real number (NumPy's too, but not a bool) as a float; range checks are the caller's."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        msg = f"{name} must be a real number, got {type(value).__name__}"
        raise TypeError(msg)
    if not math.isfinite(value):
        msg = f"{name} must be finite, got {value!r}"
        raise ValueError(msg)
    return float(value)


def check_nonlinearity(nonlinearity: object) -> str:
    """``"tanh"`` or ``"relu"``, in torch's words otherwise."""
    if not isinstance(nonlinearity, str) or nonlinearity not in ("tanh", "relu"):
        msg = f"Unknown nonlinearity {nonlinearity!r}. Select from 'tanh' or 'relu'."
        raise ValueError(msg)
    return str(nonlinearity)


def check_weights(Wx: object, Wh: object, b: object) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``Wx (D, H)``, ``Wh (H, H)`` and ``b (H,)`` as arrays; H comes from Wx."""
    Wx_arr = as_real_array("Wx", Wx)
    check_ndim("Wx", Wx_arr, 2, "(D, H)")
    H = Wx_arr.shape[1]
    Wh_arr = as_real_array("Wh", Wh)
    check_shape("Wh", Wh_arr, (H, H), f"H = {H} from Wx")
    b_arr = as_real_array("b", b)
    check_shape("b", b_arr, (H,), f"H = {H} from Wx")
    return Wx_arr, Wh_arr, b_arr


def check_at_least(
    what: str, name: str, value: object, low: float, *, strict: bool = False
) -> float:
    """A finite real ``>= low`` (``> low`` if strict), in torch's words: ``Invalid {what}: {value}``."""
    number = check_real(name, value)
    if number < low or (strict and number == low):
        bound = f"> {low}" if strict else f">= {low}"
        msg = f"Invalid {what}: {value!r} ({name} must be {bound})"
        raise ValueError(msg)
    return number


def as_items(name: str, values: object) -> dict[Key, object]:
    """A list or tuple by position, a dict by key."""
    if isinstance(values, Mapping):
        return dict(values)
    if isinstance(values, list | tuple):
        return dict(enumerate(values))
    msg = f"{name} must be a list or a dict of arrays, got {type(values).__name__}"
    raise TypeError(msg)


def kind_of(value: object) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of dtype {value.dtype}"
    return f"a {type(value).__name__}"
