"""``RNNConfig``: the options of a multi-layer Elman RNN, ``torch.nn.RNN``'s, checked once and frozen.

Shapes: D = input_size, H = hidden_size, L = num_layers, K = num_directions (2 if bidirectional).
Layer ``l`` direction ``k`` has torch's parameters, named and laid out as torch names them::

    weight_ih_l{l}{_reverse}  (H, D_l)     D_0 = D; D_l = K * H above the first layer
    weight_hh_l{l}{_reverse}  (H, H)
    bias_ih_l{l}{_reverse}    (H,)         with bias only
    bias_hh_l{l}{_reverse}    (H,)         with bias only

The layer (``RNN``), the oracles' problems, the ONNX graphs, the torch interop and the check cases
all hold one of these, so that each option is spelled out here only. Dropout is a probability
only: who applies it, and with which masks, is the layer's business (the oracles are given masks).

``mode`` is torch's name for the cell (``RNNBase.mode``): ``RNN_TANH`` or ``RNN_RELU``, derived
from ``nonlinearity``, for ``cell="RNN"``; ``LSTM`` and ``GRU`` for those cells. Whatever runs a
network (the layer, each oracle, the exports) selects its cell by it, and the parameters' rows are
``gate_size = gates * H``, as in torch. An LSTM with ``proj_size = P > 0`` has h of width P
(``output_size``): ``weight_hh (4H, P)``, ``D_l = K * P`` above the first layer, and one more
parameter per layer and direction, ``weight_hr_l{l}{_reverse} (P, H)``, after the biases.
A GRU's ``reset_after`` says where its reset gate acts (True is torch's equations, False the ONNX
default's). ``torch_options()`` are the cell's torch constructor's arguments, ``layer_options()``
this package's layer's (the GRU's add ``reset_after``).
"""

from __future__ import annotations

import numbers
import os
from dataclasses import dataclass, fields
from typing import Any, Literal

import numpy as np

from reference_rnn.core.functional import Nonlinearity
from reference_rnn.core.validation import check_flag, check_nonlinearity, check_size

__all__ = [
    "CELLS",
    "FALLBACK_MEMORY",
    "GATES",
    "TORCH_OPTIONS",
    "CellName",
    "Mode",
    "RNNConfig",
    "physical_memory",
    "require_parameter_memory",
]

#: torch's names for the cells (``RNNBase.mode``).
Mode = Literal["RNN_TANH", "RNN_RELU", "LSTM", "GRU"]
#: Each cell's number of gates: torch stacks that many ``(H, .)`` blocks in each weight and bias.
GATES: dict[Mode, int] = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}
#: The cells, by the name of their module in ``torch.nn``.
CellName = Literal["RNN", "LSTM", "GRU"]
CELLS: tuple[CellName, ...] = ("RNN", "LSTM", "GRU")
#: The arguments of each cell's torch constructor, in its order (``torch.nn.LSTM(...)``).
_COMMON = ("input_size", "hidden_size", "num_layers")
_AFTER = ("bias", "batch_first", "dropout", "bidirectional")
TORCH_OPTIONS: dict[CellName, tuple[str, ...]] = {
    "RNN": (*_COMMON, "nonlinearity", *_AFTER),
    "LSTM": (*_COMMON, *_AFTER, "proj_size"),
    "GRU": (*_COMMON, *_AFTER),
}
#: The options of this package's layer of a cell that torch's constructor does not take.
_LAYER_ONLY: dict[CellName, tuple[str, ...]] = {"GRU": ("reset_after",)}


@dataclass(frozen=True)
class RNNConfig:
    """``torch.nn.RNN``'s options, with its names, order and defaults; checked when made.

    Bad values are a TypeError or ValueError in torch's words (``hidden_size must be greater than
    zero``); NumPy integers and bools are made Python's, an integer dropout a float.
    """

    input_size: int
    hidden_size: int
    num_layers: int = 1
    nonlinearity: Nonlinearity = "tanh"
    bias: bool = True
    batch_first: bool = False
    dropout: float = 0.0
    bidirectional: bool = False
    #: ``torch.nn.LSTM``'s projection of h: its width, or 0 for none (LSTM only)
    proj_size: int = 0
    #: the GRU's: where its reset gate acts (core/gru.py); True is torch's
    reset_after: bool = True
    #: the cell: ``"RNN"`` (Elman, with ``nonlinearity``), ``"LSTM"`` or ``"GRU"``
    cell: CellName = "RNN"

    def __post_init__(self) -> None:
        checked = {
            "input_size": check_size("input_size", self.input_size),
            "hidden_size": check_size("hidden_size", self.hidden_size),
            "num_layers": check_size("num_layers", self.num_layers),
            "nonlinearity": check_nonlinearity(self.nonlinearity),
            "bias": check_flag("bias", self.bias),
            "batch_first": check_flag("batch_first", self.batch_first),
            "bidirectional": check_flag("bidirectional", self.bidirectional),
            "dropout": _check_dropout(self.dropout),
            "reset_after": check_flag("reset_after", self.reset_after),
        }
        cell = _check_cell(self.cell)
        checked["cell"] = cell
        hidden_size = check_size("hidden_size", self.hidden_size)
        checked["proj_size"] = _check_proj_size(self.proj_size, hidden_size, cell)
        for name, value in checked.items():
            object.__setattr__(self, name, value)  # frozen: the checked value replaces the given
        article = "an" if cell in ("RNN", "LSTM") else "a"
        if cell != "RNN" and self.nonlinearity != "tanh":
            msg = f"nonlinearity is torch.nn.RNN's option, not {article} {cell}'s"
            raise ValueError(msg + f": got {self.nonlinearity!r}")
        if cell != "GRU" and not self.reset_after:
            msg = f"reset_after is the GRU's option, not {article} {cell}'s: got reset_after=False"
            raise ValueError(msg)

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def mode(self) -> Mode:
        """torch's name for the cell: ``"LSTM"``, ``"GRU"``, or for ``"RNN"`` ``"RNN_TANH"`` or
        ``"RNN_RELU"`` from ``nonlinearity``."""
        if self.cell != "RNN":
            return self.cell
        return "RNN_TANH" if self.nonlinearity == "tanh" else "RNN_RELU"

    def layer_options(self) -> dict[str, Any]:
        """The keyword arguments of this package's layer for the cell (``RNN``, ``LSTM``, ``GRU``),
        all of them: ``GRU(**config.layer_options())`` has this configuration."""
        names = TORCH_OPTIONS[self.cell] + _LAYER_ONLY.get(self.cell, ())
        return {name: getattr(self, name) for name in names}

    def torch_options(self) -> dict[str, Any]:
        """The arguments of the cell's torch constructor (``torch.nn.LSTM(**options)``).

        torch computes the GRU with ``reset_after=True`` only: the other is a ValueError.
        """
        if not self.reset_after:
            msg = (
                "torch.nn.GRU computes reset_after=True only (n = tanh(W_in x + b_in + "
                "r * (W_hn h + b_hn))): this GRU has reset_after=False, which no torch module "
                "computes"
            )
            raise ValueError(msg)
        return {name: getattr(self, name) for name in TORCH_OPTIONS[self.cell]}

    @property
    def output_size(self) -> int:
        """The width of h in each direction: ``proj_size`` with a projection, else ``hidden_size``."""
        return self.proj_size or self.hidden_size

    @property
    def gate_size(self) -> int:
        """The rows of each weight and bias: the cell's gates times ``hidden_size``."""
        return GATES[self.mode] * self.hidden_size

    def layer_input_size(self, layer: int) -> int:
        """``D_l``: the input width of layer ``layer``."""
        return self.input_size if layer == 0 else self.num_directions * self.output_size

    def param_names(self, layer: int, direction: int) -> tuple[str, str, str, str]:
        """torch's names for one layer and direction: weight_ih, weight_hh, bias_ih, bias_hh.

        All four, also without bias (where the biases are not parameters).
        """
        end = f"_l{layer}_reverse" if direction else f"_l{layer}"
        return f"weight_ih{end}", f"weight_hh{end}", f"bias_ih{end}", f"bias_hh{end}"

    def projection_name(self, layer: int, direction: int) -> str:
        """torch's name of the projection of one layer and direction (with ``proj_size``)."""
        return f"weight_hr_l{layer}" + "_reverse" * bool(direction)

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """torch's parameter names and shapes, in torch's order (``named_parameters()``)."""
        H, G, P = self.hidden_size, self.gate_size, self.output_size
        shapes: dict[str, tuple[int, ...]] = {}
        for layer in range(self.num_layers):
            for direction in range(self.num_directions):
                w_ih, w_hh, b_ih, b_hh = self.param_names(layer, direction)
                shapes |= {w_ih: (G, self.layer_input_size(layer)), w_hh: (G, P)}
                if self.bias:
                    shapes |= {b_ih: (G,), b_hh: (G,)}
                if self.proj_size:
                    shapes[self.projection_name(layer, direction)] = (P, H)
        return shapes

    def parameter_count(self) -> int:
        """The number of parameter values, counted without listing them (``param_shapes`` of
        ``num_layers=10**9`` would not end)."""
        H, G, K, P = self.hidden_size, self.gate_size, self.num_directions, self.output_size

        def per_direction(D: int) -> int:
            return G * D + G * P + 2 * G * self.bias + (P * H if self.proj_size else 0)

        return K * (per_direction(self.input_size) + (self.num_layers - 1) * per_direction(K * P))

    def options(self) -> dict[str, Any]:
        """The sizes, then the options that differ from torch's defaults, in torch's order.

        ``RNNConfig(**config.options()) == config``; a short form for reprs and stored cases.
        """
        options = {"input_size": self.input_size, "hidden_size": self.hidden_size}
        for field in fields(self)[2:]:
            value = getattr(self, field.name)
            if value != field.default:
                options[field.name] = value
        return options

    def describe(self) -> str:
        """The network in a few words, for messages: ``L=2, relu, bidirectional, no bias``."""
        words = [f"L={self.num_layers}", self.nonlinearity if self.cell == "RNN" else self.cell]
        words += [f"proj_size={self.proj_size}"] * bool(self.proj_size)
        words += ["reset_after=False"] * (not self.reset_after)
        words += [name for name in ("batch_first", "bidirectional") if getattr(self, name)]
        words += ["no bias"] * (not self.bias) + [f"dropout={self.dropout}"] * (self.dropout > 0)
        return ", ".join(words)


#: The limit where the operating system does not say how much memory the machine has: 64 GiB.
FALLBACK_MEMORY = 2**36


def physical_memory() -> int:
    """The machine's physical memory in bytes (``os.sysconf``), or :data:`FALLBACK_MEMORY`."""
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # no sysconf (Windows), or no such name
        return FALLBACK_MEMORY
    return memory if memory > 0 else FALLBACK_MEMORY


def require_parameter_memory(config: RNNConfig, dtype: np.dtype[Any]) -> None:
    """A MemoryError, before anything is allocated, for parameters larger than the machine's memory.

    ``RNN(3, 4, num_layers=10**9)`` would otherwise allocate layer after layer until the machine
    runs out.
    """
    need = config.parameter_count() * dtype.itemsize
    have = physical_memory()
    if need > have:
        options = ", ".join(f"{name}={value!r}" for name, value in config.options().items())
        msg = (
            f"the parameters of ({options}) in {dtype} would need {need:,} bytes "
            f"({need / 2**30:.1f} GiB), more than this machine's physical memory "
            f"({have / 2**30:.1f} GiB): make hidden_size, num_layers or input_size smaller"
        )
        raise MemoryError(msg)


def _check_cell(cell: object) -> CellName:
    for name in CELLS:
        if cell == name:
            return name
    msg = f"cell must be one of {list(CELLS)}, got {cell!r}"
    raise ValueError(msg)


def _check_proj_size(proj_size: object, hidden_size: int, cell: CellName) -> int:
    """0, or for an LSTM an int in [0, hidden_size), in torch's words otherwise."""
    if isinstance(proj_size, bool) or not isinstance(proj_size, numbers.Integral):
        msg = f"proj_size should be of type int, got: {type(proj_size).__name__}"
        raise TypeError(msg)
    size = int(proj_size)
    if size < 0:
        msg = "proj_size should be a positive integer or zero to disable projections"
        raise ValueError(msg)
    if size and cell != "LSTM":
        msg = "proj_size argument is only supported for LSTM, not RNN or GRU"
        raise ValueError(msg)
    if size >= hidden_size:
        msg = f"proj_size has to be smaller than hidden_size, got proj_size={size}"
        raise ValueError(msg + f" and hidden_size={hidden_size}")
    return size


def _check_dropout(dropout: object) -> float:
    """A probability in [0, 1], in torch's words otherwise (a bool is not one)."""
    if (
        isinstance(dropout, bool)
        or not isinstance(dropout, numbers.Real)
        or not 0 <= float(dropout) <= 1
    ):
        msg = (
            "dropout should be a number in range [0, 1] representing the probability of an "
            f"element being zeroed, got {dropout!r}"
        )
        raise ValueError(msg)
    return float(dropout)
