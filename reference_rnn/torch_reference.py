"""What torch computes for an ``RNN``'s configuration and weights: the other side of every check.

Nothing here uses reference_rnn's math: torch runs a ``torch.nn.RNN`` with the same parameters
(packed with ``pack_padded_sequence`` when lengths are given) and autograd differentiates
``(output * grad_output).sum() + (h_n * grad_h_n).sum()``, so any upstream gradient is checked.
With dropout in training, torch's own masks are random; the same network is then composed of
single-layer ``torch.nn.RNN`` modules with the masks that reference_rnn drew multiplied in between.

torch is imported on first use: ``import reference_rnn`` never needs it.
"""

from __future__ import annotations

import importlib
import re
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from reference_rnn._checks import FloatArray

if TYPE_CHECKING:
    from reference_rnn.rnn import RNN

__all__ = ["import_torch", "torch_rnn"]


def import_torch() -> ModuleType:
    """torch, or an ImportError that says how to get it."""
    try:
        return importlib.import_module("torch")
    except ImportError as exc:
        msg = f"the torch checks need torch (pip install torch==2.13.0): {exc}"
        raise ImportError(msg) from exc


def torch_rnn(
    rnn: RNN,
    x: FloatArray,
    hx: FloatArray | None,
    lengths: Any,
    grad_output: FloatArray,
    grad_h_n: FloatArray,
    dropout_masks: list[FloatArray] | None = None,
) -> dict[str, FloatArray]:
    """torch's output, h_n, grad_input, grad_hx and ``grad.<name>`` for every parameter.

    ``x``, ``hx``, ``lengths`` and the masks are laid out as for ``rnn.forward``; ``hx=None``
    is zeros (its gradient is reported all the same). With ``dropout_masks``, one per layer but
    the last, the layers are composed by hand with those masks in between.
    """
    torch = import_torch()
    dtype = getattr(torch, rnn.dtype.name)
    LK, H = rnn.num_layers * rnn.num_directions, rnn.hidden_size
    hx_shape = (LK, H) if x.ndim == 2 else (LK, x.shape[0 if rnn.batch_first else 1], H)
    x_t = torch.tensor(np.asarray(x), dtype=dtype, requires_grad=True)
    hx_np = np.zeros(hx_shape) if hx is None else np.asarray(hx)
    hx_t = torch.tensor(hx_np, dtype=dtype, requires_grad=True)
    module = rnn.to_torch()

    if dropout_masks is None:
        output, h_n = _run(torch, module, x_t, hx_t, lengths)
    else:
        K = rnn.num_directions
        layer_in, finals = x_t, []
        for layer in range(rnn.num_layers):
            single = _single_layer(torch, module, layer)
            out, h_n_layer = _run(
                torch, single, layer_in, hx_t[layer * K : (layer + 1) * K], lengths
            )
            finals.append(h_n_layer)
            if layer < rnn.num_layers - 1:
                out = out * torch.tensor(dropout_masks[layer], dtype=dtype)
            layer_in = out
        output, h_n = layer_in, torch.cat(finals)

    G = torch.tensor(np.asarray(grad_output), dtype=dtype)
    GH = torch.tensor(np.asarray(grad_h_n), dtype=dtype)
    ((output * G).sum() + (h_n * GH).sum()).backward()
    result = {
        "output": output.detach().numpy(),
        "h_n": h_n.detach().numpy(),
        "grad_input": x_t.grad.numpy(),
        "grad_hx": hx_t.grad.numpy(),
    }
    for name, param in module.named_parameters():
        result[f"grad.{name}"] = param.grad.numpy()
    return result


def _run(torch: Any, module: Any, x: Any, hx: Any, lengths: Any) -> tuple[Any, Any]:
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


def _single_layer(torch: Any, module: Any, layer: int) -> Any:
    """Layer ``layer`` of ``module`` as a one-layer ``torch.nn.RNN`` sharing its parameters."""
    single = torch.nn.RNN(
        module.input_size if layer == 0 else module.hidden_size * (1 + module.bidirectional),
        module.hidden_size,
        1,
        nonlinearity=module.nonlinearity,
        bias=module.bias,
        batch_first=module.batch_first,
        bidirectional=module.bidirectional,
        dtype=next(module.parameters()).dtype,
    )
    own = re.compile(rf"_l{layer}(?=$|_)")
    for name, param in module.named_parameters():
        if own.search(name):
            # share the very Parameter, so that its .grad lands on the original module
            setattr(single, own.sub("_l0", name), param)
    return single
