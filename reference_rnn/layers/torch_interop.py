"""A stack layer and torch's module of its cell: a configuration read, and a module made.

Plumbing between the two, with torch's public API only: a configuration, torch-named parameters,
a dtype and a mode go across; nothing is computed.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import fields
from typing import Any, cast

import numpy as np

from reference_rnn.core.config import CellName, RNNConfig
from reference_rnn.core.optional import require
from reference_rnn.core.validation import FloatArray
from reference_rnn.layers.stack import Cell

__all__ = ["config_of", "to_torch"]


def config_of(cell: Cell, module: Any) -> tuple[RNNConfig, str]:
    """A torch module's configuration and its parameters' dtype name (``"float32"``).

    The module must compute ``cell`` (``torch.nn.RNN`` for the Elman cell): its ``mode`` says so.
    """
    if getattr(module, "mode", None) not in cell.modes:
        msg = f"module must be a torch.nn.{cell.torch_module}, got {type(module).__name__}"
        raise TypeError(msg)
    # the options torch's module has (torch.nn.GRU has no nonlinearity), and the cell's name
    options = {
        f.name: getattr(module, f.name) for f in fields(RNNConfig) if hasattr(module, f.name)
    }
    config = RNNConfig(**options, cell=cast("CellName", cell.torch_module))  # RNNConfig checks it
    dtype = str(next(module.parameters()).dtype).removeprefix("torch.")
    return config, dtype


def to_torch(
    cell: Cell,
    config: RNNConfig,
    params: Mapping[str, FloatArray],
    dtype: np.dtype[Any],
    training: bool,
) -> Any:
    """torch's module for ``cell`` with ``config``, the torch-named ``params``, ``dtype`` and mode."""
    torch = require("torch", extra="oracle-torch", purpose=f"{cell.torch_module}.to_torch")
    module_class = getattr(torch.nn, cell.torch_module)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the layer's constructor has already warned about dropout
        module = module_class(**config.torch_options(), dtype=getattr(torch, dtype.name))
    module.load_state_dict({name: torch.from_numpy(value) for name, value in params.items()})
    return module.train(training)
