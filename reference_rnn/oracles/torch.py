"""The torch oracle: ``torch.nn.RNN`` (``LSTM``, ``GRU``) built from a problem's raw arrays,
gradients by autograd.

The module is made with torch's constructor and its parameters are copied in one by one from the
problem's arrays (torch's names and layout). With lengths, the input goes through
``pack_padded_sequence(..., enforce_sorted=False)`` and back through ``pad_packed_sequence``.
Autograd differentiates ``(output * grad_output).sum() + (h_n * grad_h_n).sum()`` (``+ (c_n *
grad_c_n).sum()`` for an LSTM), so any upstream gradient is checked. With dropout masks, torch's own masks would be random: the network is then
composed of single-layer ``torch.nn.RNN`` modules with the given masks multiplied in between.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from types import ModuleType
from typing import Any

import numpy as np

from reference_rnn.core.config import Mode, RNNConfig
from reference_rnn.core.optional import require
from reference_rnn.oracles import Problem, Results

__all__ = [
    "GRADIENTS",
    "NAME",
    "import_torch",
    "known_difference",
    "one_thread",
    "run",
    "unsupported",
    "version",
]

NAME = "torch"
GRADIENTS = True


def import_torch() -> ModuleType:
    """torch, or an ImportError that says how to get it."""
    return require("torch", extra="oracle-torch", purpose="the torch oracle")


@contextmanager
def one_thread(torch: Any) -> Iterator[None]:
    """torch on one thread, then as it was: the networks are tiny and a second thread only spins.

    On this project's busy 2-core machine, 20 steps of a small classifier took 1.2 s on two
    threads and 0.03 s on one; a float64 T = 1000, H = 32 run took 11 s and 0.19 s.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def version() -> str:
    return str(import_torch().__version__)


def unsupported(problem: Problem) -> str | None:
    """Why torch cannot express ``problem``: a GRU with ``reset_after=False``, or None."""
    if not problem.config.reset_after:
        return (
            "torch.nn.GRU computes reset_after=True only (the reset gate applied after the "
            "recurrent product)"
        )
    return None


def known_difference(problem: Problem) -> str | None:  # noqa: ARG001
    return None


def run(problem: Problem) -> Results:
    """torch's output, h_n, grad_input, grad_hx and ``grad.<name>`` for every parameter."""
    torch = import_torch()
    with one_thread(torch), warnings.catch_warnings():
        # an LSTM with proj_size: torch says its oneDNN kernel has none, then runs its own
        warnings.filterwarnings("ignore", "LSTM with projections is not supported")
        return _run_problem(torch, problem)


def _run_problem(torch: Any, problem: Problem) -> Results:
    c, dtype = problem.config, getattr(torch, problem.dtype)
    module = _module(torch, problem, c.num_layers, c.input_size)
    with torch.no_grad():
        for name, param in module.named_parameters():
            param.copy_(torch.from_numpy(np.asarray(problem.params[name])))
    LK = c.num_layers * c.num_directions
    batch = (LK,) if problem.unbatched else (LK, problem.x.shape[0 if c.batch_first else 1])
    x = torch.tensor(problem.x, dtype=dtype, requires_grad=True)
    # the initial states, h's and (an LSTM's) c's, zeros where the problem has none
    given = [(problem.hx, c.output_size)] + [(problem.cx, c.hidden_size)] * (c.cell == "LSTM")
    states = tuple(
        torch.tensor(np.zeros((*batch, S)) if s0 is None else s0, dtype=dtype, requires_grad=True)
        for s0, S in given
    )

    if problem.dropout_masks is None:
        output, finals = _run(torch, module, x, states, problem.lengths)
    else:
        K = c.num_directions
        layer_in, per_layer = x, []
        for layer in range(c.num_layers):
            single = _single_layer(torch, problem, module, layer)
            part = tuple(s[layer * K : (layer + 1) * K] for s in states)
            out, layer_finals = _run(torch, single, layer_in, part, problem.lengths)
            per_layer.append(layer_finals)
            if layer < c.num_layers - 1:
                out = out * torch.tensor(problem.dropout_masks[layer], dtype=dtype)
            layer_in = out
        output, finals = layer_in, tuple(torch.cat(f) for f in zip(*per_layer, strict=True))

    upstream = [problem.grad_h_n] + [problem.grad_c_n] * (c.cell == "LSTM")
    loss = (output * torch.tensor(problem.grad_output, dtype=dtype)).sum()
    for final, g in zip(finals, upstream, strict=True):
        loss = loss + (final * torch.tensor(g, dtype=dtype)).sum()
    loss.backward()
    result = {
        "output": output.detach().numpy(),
        "h_n": finals[0].detach().numpy(),
        "grad_input": x.grad.numpy(),
        "grad_hx": states[0].grad.numpy(),
    }
    if c.cell == "LSTM":
        result |= {"c_n": finals[1].detach().numpy(), "grad_cx": states[1].grad.numpy()}
    for name, param in module.named_parameters():
        result[f"grad.{name}"] = param.grad.numpy()
    return result


def _module(torch: Any, problem: Problem, num_layers: int, input_size: int) -> Any:
    """torch's module for the problem's cell, in evaluation mode with its options (dropout is given)."""
    config = replace(problem.config, num_layers=num_layers, input_size=input_size, dropout=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = _CELLS[config.mode](torch, config, getattr(torch, problem.dtype))
    return module.eval()


def _elman(torch: Any, config: RNNConfig, dtype: Any) -> Any:
    return torch.nn.RNN(**config.torch_options(), dtype=dtype)


def _lstm(torch: Any, config: RNNConfig, dtype: Any) -> Any:
    return torch.nn.LSTM(**config.torch_options(), dtype=dtype)


def _gru(torch: Any, config: RNNConfig, dtype: Any) -> Any:
    return torch.nn.GRU(**config.torch_options(), dtype=dtype)


#: torch's module for each cell, by ``config.mode``: a new cell is one more function.
_CELLS: dict[Mode, Callable[[Any, RNNConfig, Any], Any]] = {
    "RNN_TANH": _elman,
    "RNN_RELU": _elman,
    "LSTM": _lstm,
    "GRU": _gru,
}


def _run(
    torch: Any, module: Any, x: Any, states: tuple[Any, ...], lengths: Any
) -> tuple[Any, tuple[Any, ...]]:
    """``module(x, hx)`` with ``hx`` the one state or the tuple of them, through
    pack_padded_sequence and back when lengths are given; the final states as a tuple."""
    hx = states[0] if len(states) == 1 else states
    out, finals = _call(torch, module, x, hx, lengths)
    return out, (finals,) if len(states) == 1 else tuple(finals)


def _call(torch: Any, module: Any, x: Any, hx: Any, lengths: Any) -> tuple[Any, Any]:
    """``module(x, hx)``, through pack_padded_sequence and back when lengths are given."""
    if lengths is None:
        out, h_n = module(x, hx)
        return out, h_n
    rnn_utils = torch.nn.utils.rnn
    T = x.shape[1 if module.batch_first else 0]
    packed = rnn_utils.pack_padded_sequence(
        x,
        torch.as_tensor(np.asarray(lengths)),
        batch_first=module.batch_first,
        enforce_sorted=False,
    )
    out_packed, h_n = module(packed, hx)
    out, _ = rnn_utils.pad_packed_sequence(
        out_packed, batch_first=module.batch_first, total_length=T
    )
    return out, h_n


def _single_layer(torch: Any, problem: Problem, module: Any, layer: int) -> Any:
    """Layer ``layer`` of ``module`` as a one-layer module of its cell sharing its parameters."""
    single = _module(torch, problem, 1, problem.config.layer_input_size(layer))
    own = re.compile(rf"_l{layer}(?=$|_)")
    for name, param in module.named_parameters():
        if own.search(name):
            # share the very Parameter, so that its .grad lands on the original module
            setattr(single, own.sub("_l0", name), param)
    return single
