"""``RNN`` and ``torch.nn.RNN``: a module's configuration read, and a module made (needs torch).

Plumbing between the two, with torch's public API only: a configuration, torch-named parameters,
a dtype and a mode go across; nothing is computed.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import asdict, fields
from typing import Any

import numpy as np

from reference_rnn.core.config import RNNConfig
from reference_rnn.core.optional import require
from reference_rnn.core.validation import FloatArray

__all__ = ["config_of", "to_torch"]


def config_of(module: Any) -> tuple[RNNConfig, str]:
    """A ``torch.nn.RNN``'s configuration and its parameters' dtype name (``"float32"``)."""
    if getattr(module, "mode", None) not in ("RNN_TANH", "RNN_RELU"):
        msg = f"module must be a torch.nn.RNN, got {type(module).__name__}"
        raise TypeError(msg)
    config = RNNConfig(**{field.name: getattr(module, field.name) for field in fields(RNNConfig)})
    dtype = str(next(module.parameters()).dtype).removeprefix("torch.")
    return config, dtype


def to_torch(
    config: RNNConfig, params: Mapping[str, FloatArray], dtype: np.dtype[Any], training: bool
) -> Any:
    """A ``torch.nn.RNN`` with ``config``, the torch-named ``params``, ``dtype`` and mode."""
    torch = require("torch", extra="oracle-torch", purpose="RNN.to_torch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # RNN's constructor has already warned about dropout
        module = torch.nn.RNN(**asdict(config), dtype=getattr(torch, dtype.name))
    module.load_state_dict({name: torch.from_numpy(value) for name, value in params.items()})
    return module.train(training)
