"""``RNN``: the executable equivalent of ``torch.nn.RNN``, built on the functional core.

Shapes: N batch, T time steps, D = input_size, H = hidden_size, L = num_layers,
K = 2 if bidirectional else 1 (the number of directions).

    input   (T, N, D), or (N, T, D) with batch_first, or (T, D) unbatched
    hx, h_n (L * K, N, H) whatever batch_first says, or (L * K, H) unbatched
    output  (T, N, K * H), or (N, T, K * H) with batch_first, or (T, K * H) unbatched

Layer ``l`` direction ``k`` runs ``h_t = tanh(x_t @ W_ih.T + b_ih + h_{t-1} @ W_hh.T + b_hh)``
with torch's parameter names and layouts (``weight_ih_l{l}{_reverse}`` is ``(H, D_l)``). Inside,
every array is batch-first ``(N, T, .)``, the layout of the functional core.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import DTypeLike, NDArray

from reference_rnn.core.functional import (
    Nonlinearity,
    RNNCache,
    backward_sequence,
    forward_sequence,
)
from reference_rnn.core.validation import (
    FloatArray,
    as_array,
    as_real_array,
    check_flag,
    check_nonlinearity,
    check_shape,
    check_size,
    require_finite,
)

__all__ = ["RNN"]


@dataclass(frozen=True, eq=False)
class _Layer:
    """What the backward pass needs from one layer of the last forward pass."""

    caches: list[RNNCache]  # one per direction
    input_width: int  # D for the first layer, K * H above it
    dropout_mask: FloatArray | None  # applied to this layer's output, (N, T, K * H)


@dataclass(frozen=True, eq=False)
class _Forward:
    """The last forward pass: its layers and how the caller laid out the arrays."""

    layers: list[_Layer]
    lengths: NDArray[np.intp] | None  # (N,)
    valid: NDArray[np.bool_] | None  # (N, T, 1): True up to each length
    unbatched: bool
    hx_shape: tuple[int, ...]
    output_shape: tuple[int, ...]


class RNN:
    """A multi-layer Elman RNN with ``torch.nn.RNN``'s constructor, semantics and parameter names.

    Parameters
    ----------
    input_size, hidden_size, num_layers, nonlinearity, bias, batch_first, dropout, bidirectional
        As in ``torch.nn.RNN``.
    dtype : float64 (default) or float32
        The parameters' dtype.
    seed : int, numpy.random.Generator or None
        Source of the initial parameters, U(-1/sqrt(H), 1/sqrt(H)) as in torch, and of the
        dropout masks.

    Attributes
    ----------
    grads : dict
        The gradients of the last ``backward``, keyed and shaped as ``named_parameters()`` in torch.
        They are replaced, not accumulated, by each ``backward``.
    dropout_masks : list of arrays
        The masks the last forward multiplied into each layer's output but the last (training with
        dropout > 0 only), in the layout of ``output``; values are 0 or 1 / (1 - dropout).
    training : bool
        Dropout is applied only while training (``train()``, the default, or ``eval()``).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: Literal["tanh", "relu"] = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        *,
        dtype: DTypeLike = np.float64,
        seed: int | np.random.Generator | None = None,
    ) -> None:
        self.input_size = check_size("input_size", input_size)
        self.hidden_size = check_size("hidden_size", hidden_size)
        self.num_layers = check_size("num_layers", num_layers)
        self.nonlinearity: Nonlinearity = check_nonlinearity(nonlinearity)  # type: ignore[assignment]
        self.bias = check_flag("bias", bias)
        self.batch_first = check_flag("batch_first", batch_first)
        self.bidirectional = check_flag("bidirectional", bidirectional)
        given: object = dropout  # any object: not every caller runs a type checker
        if (
            isinstance(given, bool)
            or not isinstance(given, numbers.Real)
            or not 0 <= float(given) <= 1
        ):
            msg = (
                "dropout should be a number in range [0, 1] representing the probability of an "
                f"element being zeroed, got {dropout!r}"
            )
            raise ValueError(msg)
        self.dropout: float = float(dropout)
        if self.dropout > 0 and self.num_layers == 1:
            warnings.warn(
                "dropout option adds dropout after all but last recurrent layer, so non-zero "
                f"dropout expects num_layers greater than 1, but got dropout={dropout} and "
                f"num_layers={num_layers}",
                UserWarning,
                stacklevel=2,
            )
        try:
            self.dtype: np.dtype[Any] = np.dtype(dtype)
        except TypeError:
            msg = f"dtype must be float32 or float64, got {dtype!r}"
            raise TypeError(msg) from None
        if self.dtype not in (np.float32, np.float64):
            msg = f"dtype must be float32 or float64, got {self.dtype}"
            raise TypeError(msg)
        self.rng: np.random.Generator = np.random.default_rng(seed)
        self.training: bool = True
        self.grads: dict[str, FloatArray] = {}
        self.dropout_masks: list[FloatArray] = []
        self._last: _Forward | None = None

        k = 1 / np.sqrt(self.hidden_size)
        self._params: dict[str, FloatArray] = {
            name: self.rng.uniform(-k, k, size=shape).astype(self.dtype)
            for name, shape in self._param_shapes().items()
        }

    # -- configuration and parameters ---------------------------------------------------------

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    def _param_shapes(self) -> dict[str, tuple[int, ...]]:
        """torch's parameter names and shapes, in torch's order."""
        H = self.hidden_size
        shapes: dict[str, tuple[int, ...]] = {}
        for layer in range(self.num_layers):
            width = self.input_size if layer == 0 else self.num_directions * H
            for direction in range(self.num_directions):
                w_ih, w_hh, b_ih, b_hh = _param_names(layer, direction)
                shapes |= {w_ih: (H, width), w_hh: (H, H)}
                if self.bias:
                    shapes |= {b_ih: (H,), b_hh: (H,)}
        return shapes

    def __getattr__(self, name: str) -> FloatArray:
        # rnn.weight_ih_l0 and friends, as on a torch module
        params = self.__dict__.get("_params", {})
        if name in params:
            return params[name]  # type: ignore[no-any-return]
        msg = f"{type(self).__name__!r} object has no attribute {name!r}"
        raise AttributeError(msg)

    @property
    def params(self) -> dict[str, FloatArray]:
        """The live parameters, with torch's names, shapes and order; update them in place."""
        return self._params

    def state_dict(self) -> dict[str, FloatArray]:
        """Copies of the parameters, with torch's names, shapes and order."""
        return {name: value.copy() for name, value in self._params.items()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Replace every parameter; values are NumPy arrays or torch tensors.

        Missing, unexpected and misshapen keys are a ValueError that lists them; nothing is
        changed unless every value is right.
        """
        given: object = state_dict  # any object: not every caller runs a type checker
        if not isinstance(given, Mapping):
            msg = f"state_dict must be a mapping of parameter names to arrays, got {type(state_dict).__name__}"
            raise TypeError(msg)
        shapes = self._param_shapes()
        missing = [name for name in shapes if name not in state_dict]
        unexpected = [name for name in state_dict if name not in shapes]
        if missing or unexpected:
            msg = f"state_dict does not match: missing keys {missing}, unexpected keys {unexpected}"
            raise ValueError(msg)
        params = {}
        for name in shapes:
            value = state_dict[name]
            if hasattr(value, "detach"):  # a torch tensor; torch itself is not needed here
                value = value.detach().cpu().numpy()
            params[name] = as_real_array(f"state_dict[{name!r}]", value)
        misshapen = [
            f"state_dict[{name!r}] must have shape {shape}, got {params[name].shape}"
            for name, shape in shapes.items()
            if params[name].shape != shape
        ]
        if misshapen:
            msg = "; ".join(misshapen)
            raise ValueError(msg)
        for name, value in params.items():
            require_finite(f"state_dict[{name!r}]", value)
        for name, value in params.items():
            # in place: whoever holds rnn.params (an optimizer) keeps the live arrays
            self._params[name][...] = value

    @classmethod
    def from_torch(cls, module: Any, *, seed: int | np.random.Generator | None = None) -> RNN:
        """An ``RNN`` with a ``torch.nn.RNN``'s configuration, weights, dtype and mode."""
        mode = getattr(module, "mode", None)
        if mode not in ("RNN_TANH", "RNN_RELU"):
            msg = f"module must be a torch.nn.RNN, got {type(module).__name__}"
            raise TypeError(msg)
        dtype = str(next(module.parameters()).dtype).removeprefix("torch.")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch has already warned about dropout
            rnn = cls(
                module.input_size,
                module.hidden_size,
                module.num_layers,
                module.nonlinearity,
                module.bias,
                module.batch_first,
                module.dropout,
                module.bidirectional,
                dtype=dtype,
                seed=seed,
            )
        rnn.load_state_dict(module.state_dict())
        rnn.train(module.training)
        return rnn

    def to_torch(self) -> Any:
        """A ``torch.nn.RNN`` with this configuration, weights, dtype and mode (needs torch)."""
        from reference_rnn.layers.torch_interop import to_torch  # noqa: PLC0415  (torch on demand)

        return to_torch(self)

    def to_onnx(self, *, hx: bool = True, lengths: bool = False, opset: int = 22) -> Any:
        """An ``onnx.ModelProto`` equivalent to this layer in evaluation mode (needs onnx).

        One ONNX ``RNN`` node per layer. Graph inputs ``input`` (T, N, D) or (N, T, D) with
        batch_first, ``hx`` (L * K, N, H) when ``hx`` (otherwise the initial state is zero) and
        ``lengths`` (N,) int64 when ``lengths`` (packed-sequence semantics); outputs ``output``
        and ``h_n``: the layouts of ``forward`` for batched input, in this layer's dtype.
        """
        from reference_rnn.layers.onnx_export import build_model  # noqa: PLC0415  (onnx on demand)

        return build_model(
            self.state_dict(),
            input_size=self.input_size,
            hidden_size=self.hidden_size,
            num_layers=self.num_layers,
            nonlinearity=self.nonlinearity,
            bias=self.bias,
            batch_first=self.batch_first,
            bidirectional=self.bidirectional,
            dtype=self.dtype.name,
            hx=hx,
            lengths=lengths,
            opset=opset,
        )

    def train(self, mode: bool = True) -> RNN:
        """Training mode (dropout on) or not; returns self, as torch does."""
        self.training = bool(mode)
        return self

    def eval(self) -> RNN:
        """Evaluation mode: no dropout. Returns self."""
        return self.train(False)

    def __repr__(self) -> str:
        options = [f"{self.input_size}", f"{self.hidden_size}"]
        defaults = {"num_layers": 1, "nonlinearity": "tanh", "bias": True, "batch_first": False}
        defaults |= {"dropout": 0.0, "bidirectional": False}
        options += [
            f"{name}={getattr(self, name)!r}"
            for name, default in defaults.items()
            if getattr(self, name) != default
        ]
        return f"RNN({', '.join(options)})"

    # -- forward and backward -----------------------------------------------------------------

    def __call__(
        self, input: object, hx: object | None = None, lengths: object | None = None
    ) -> tuple[FloatArray, FloatArray]:
        return self.forward(input, hx, lengths)

    def forward(
        self, input: object, hx: object | None = None, lengths: object | None = None
    ) -> tuple[FloatArray, FloatArray]:
        """Run every layer and direction over ``input``.

        Parameters
        ----------
        input : (T, N, D), (N, T, D) with batch_first, or (T, D) unbatched; array_like
        hx : (L * K, N, H), or (L * K, H) unbatched; array_like or None (zeros)
        lengths : (N,) integers in [1, T], or None
            The valid length of each sequence, in any order: the result is exactly what
            ``pack_padded_sequence(input, lengths, enforce_sorted=False)`` through torch's RNN and
            ``pad_packed_sequence(..., total_length=T)`` give. Outputs past a length are zero,
            ``h_n`` holds each sequence's last valid state, and the reverse direction starts at
            each sequence's last valid step.

        Returns
        -------
        output : (T, N, K * H), (N, T, K * H) with batch_first, or (T, K * H); read-only
        h_n : (L * K, N, H), or (L * K, H) unbatched; read-only
        """
        self._last = None  # a failed call must not leave the previous forward behind
        for name, param in self._params.items():
            # the parameters are writable (optimizers update them), so they are checked here
            require_finite(name, param)
        x, unbatched = self._input_batch_first(input)
        N, T, _ = x.shape
        K = self.num_directions
        h0 = self._initial_state(hx, unbatched, N)
        steps = self._lengths(lengths, unbatched, N, T)
        valid = None if steps is None else (np.arange(T) < steps[:, None])[:, :, None]

        layers: list[_Layer] = []
        h_n = []
        for layer in range(self.num_layers):
            caches = []
            outputs = []
            for direction in range(K):
                Wx, Wh, b = self._weights(layer, direction)
                x_dir = x if direction == 0 else _reverse(x, steps)
                h, cache = forward_sequence(
                    x_dir,
                    h0[layer * K + direction],
                    Wx,
                    Wh,
                    b,
                    "hx",
                    self.nonlinearity,
                    check_finite=False,
                )
                caches.append(cache)
                # each direction's final state is at its own step length - 1
                h_n.append(h[:, -1] if steps is None else h[np.arange(N), steps - 1])
                outputs.append(h if direction == 0 else _reverse(h, steps))
            out = outputs[0] if K == 1 else np.concatenate(outputs, axis=2)
            if valid is not None:
                out = np.where(valid, out, 0)
            mask: FloatArray | None = None
            if self.training and self.dropout > 0 and layer < self.num_layers - 1:
                keep = self.rng.random(out.shape) >= self.dropout
                scale = 0.0 if self.dropout == 1 else 1 / (1 - self.dropout)
                mask = np.where(keep, scale, 0.0).astype(out.dtype)
                out = out * mask
            layers.append(_Layer(caches, x.shape[2], mask))
            x = out

        hidden = np.stack(h_n)
        output = self._from_batch_first(x, unbatched)
        if unbatched:
            hidden = hidden[:, 0]
        self.dropout_masks = [
            self._from_batch_first(layer.dropout_mask, unbatched)
            for layer in layers
            if layer.dropout_mask is not None
        ]
        self._last = _Forward(layers, steps, valid, unbatched, hidden.shape, output.shape)
        return _read_only_view(output), _read_only_view(hidden)

    def backward(
        self, grad_output: object, grad_h_n: object | None = None
    ) -> tuple[FloatArray, FloatArray]:
        """Gradients for the last ``forward``.

        Parameters
        ----------
        grad_output : array_like in the shape of ``output``
            ``dL/d output``.
        grad_h_n : array_like in the shape of ``h_n``, or None (zeros)
            ``dL/d h_n``.

        Returns
        -------
        grad_input : the shape of ``input``
        grad_hx : the shape of ``h_n``; the gradient of the initial state, also when hx was None

        Fills ``grads`` with the gradient of every parameter.
        """
        if self._last is None:
            msg = "RNN.backward needs a successful forward first"
            raise RuntimeError(msg)
        last = self._last
        g_out = as_real_array("grad_output", grad_output)
        check_shape("grad_output", g_out, last.output_shape, "the shape of output")
        require_finite("grad_output", g_out)
        g_hn = None
        if grad_h_n is not None:
            g_hn = as_real_array("grad_h_n", grad_h_n)
            check_shape("grad_h_n", g_hn, last.hx_shape, "the shape of h_n")
            require_finite("grad_h_n", g_hn)
            if last.unbatched:
                g_hn = g_hn[:, None]  # (L * K, H) -> (L * K, 1, H)
        g = self._to_batch_first(g_out, last.unbatched)
        N = g.shape[0]
        H, K = self.hidden_size, self.num_directions
        steps = last.lengths
        final = (slice(None), -1) if steps is None else (np.arange(N), steps - 1)

        grads: dict[str, FloatArray] = {}
        grad_hx: list[FloatArray] = [np.empty(0)] * (self.num_layers * K)
        for layer in reversed(range(self.num_layers)):
            cache_layer = last.layers[layer]
            if cache_layer.dropout_mask is not None:
                g = g * cache_layer.dropout_mask
            if last.valid is not None:
                g = np.where(last.valid, g, 0)
            g_inputs = []
            for direction in range(K):
                g_dir = g[:, :, direction * H : (direction + 1) * H]
                if direction == 1:
                    g_dir = _reverse(g_dir, steps)
                if g_hn is not None:
                    # in the direction's own time order, h_n is the state at step length - 1
                    g_dir = np.array(g_dir)
                    g_dir[final] += g_hn[layer * K + direction]
                dx, dh0, dWx, dWh, db = backward_sequence(
                    g_dir, cache_layer.caches[direction], "grad_output", check_finite=False
                )
                g_inputs.append(dx if direction == 0 else _reverse(dx, steps))
                grad_hx[layer * K + direction] = dh0
                w_ih, w_hh, b_ih, b_hh = _param_names(layer, direction)
                grads |= {w_ih: dWx.T, w_hh: dWh.T}
                if self.bias:
                    grads |= {b_ih: db, b_hh: db.copy()}
            g = g_inputs[0] if K == 1 else g_inputs[0] + g_inputs[1]

        self.grads = {name: grads[name] for name in self._params}  # torch's order
        g_hx = np.stack(grad_hx)
        return self._from_batch_first(g, last.unbatched), g_hx[:, 0] if last.unbatched else g_hx

    # -- helpers ------------------------------------------------------------------------------

    def _weights(self, layer: int, direction: int) -> tuple[FloatArray, FloatArray, FloatArray]:
        """``Wx (D_l, H)``, ``Wh (H, H)`` and ``b (H,)`` of the functional core, from torch's."""
        w_ih, w_hh, b_ih, b_hh = _param_names(layer, direction)
        p = self._params
        b = p[b_ih] + p[b_hh] if self.bias else np.zeros(self.hidden_size, dtype=self.dtype)
        return p[w_ih].T, p[w_hh].T, b

    def _input_batch_first(self, input: object) -> tuple[FloatArray, bool]:
        """The checked input as an ``(N, T, D)`` view, and whether it was unbatched."""
        x = as_real_array("input", input)
        if x.ndim not in (2, 3):
            msg = (
                "input must be 3-D (T, N, D), or (N, T, D) with batch_first, or 2-D (T, D) "
                f"unbatched, got {x.ndim}-D array of shape {x.shape}"
            )
            raise ValueError(msg)
        if x.shape[-1] != self.input_size:
            msg = (
                f"input must have input_size = {self.input_size} features on its last axis, "
                f"got shape {x.shape}"
            )
            raise ValueError(msg)
        time_axis = 1 if self.batch_first and x.ndim == 3 else 0
        if x.shape[time_axis] == 0:
            msg = f"input must have at least one time step, got shape {x.shape}"
            raise ValueError(msg)
        require_finite("input", x)
        unbatched = x.ndim == 2
        return self._to_batch_first(x, unbatched), unbatched

    def _to_batch_first(self, a: FloatArray, unbatched: bool) -> FloatArray:
        """A view of ``a``, laid out as the caller's input or output, as ``(N, T, .)``."""
        if unbatched:
            return a[None]  # (T, F) -> (1, T, F)
        return a if self.batch_first else a.transpose(1, 0, 2)  # (T, N, F) -> (N, T, F)

    def _from_batch_first(self, a: FloatArray, unbatched: bool) -> FloatArray:
        """The inverse of :meth:`_to_batch_first`."""
        if unbatched:
            return a.reshape(a.shape[1:])  # (1, T, F) -> (T, F)
        return a if self.batch_first else a.transpose(1, 0, 2)

    def _initial_state(self, hx: object | None, unbatched: bool, N: int) -> FloatArray:
        """The checked initial state as ``(L * K, N, H)``."""
        shape = (self.num_layers * self.num_directions, N, self.hidden_size)
        if hx is None:
            return np.zeros(shape, dtype=self.dtype)
        h0 = as_real_array("hx", hx)
        ndim = 2 if unbatched else 3
        if h0.ndim != ndim:
            kind = "unbatched 2-D" if unbatched else "batched 3-D"
            msg = f"For {kind} input, hx should also be {ndim}-D but got {h0.ndim}-D array"
            raise ValueError(msg)
        if unbatched:
            check_shape("hx", h0, (shape[0], shape[2]), "num_layers * num_directions, H")
        else:
            check_shape("hx", h0, shape, "num_layers * num_directions, N, H")
        require_finite("hx", h0)
        return h0[:, None] if unbatched else h0

    def _lengths(
        self, lengths: object | None, unbatched: bool, N: int, T: int
    ) -> NDArray[np.intp] | None:
        """The checked sequence lengths, ``(N,)``, or None."""
        if lengths is None:
            return None
        if unbatched:
            msg = "lengths needs batched 3-D input, got unbatched 2-D input"
            raise ValueError(msg)
        steps = as_array("lengths", lengths)
        if steps.dtype.kind not in "iu" and steps.size:  # an empty list is float64 to NumPy
            msg = f"lengths must be an array of integers, got dtype {steps.dtype}"
            raise TypeError(msg)
        check_shape("lengths", steps, (N,), "one length per sequence")
        if N and (steps.min() < 1 or steps.max() > T):
            msg = f"lengths must lie in [1, T] = [1, {T}], got {steps.tolist()}"
            raise ValueError(msg)
        return steps.astype(np.intp)


def _param_names(layer: int, direction: int) -> tuple[str, str, str, str]:
    """torch's names for one layer and direction: weight_ih, weight_hh, bias_ih, bias_hh."""
    end = f"_l{layer}_reverse" if direction else f"_l{layer}"
    return f"weight_ih{end}", f"weight_hh{end}", f"bias_ih{end}", f"bias_hh{end}"


def _reverse(a: FloatArray, lengths: NDArray[np.intp] | None) -> FloatArray:
    """Reverse each sequence of ``a (N, T, F)`` within its length; padding stays in place.

    The reordering is its own inverse, so it also maps a reversed sequence back.
    """
    if lengths is None:
        return a[:, ::-1]
    T = a.shape[1]
    t = np.arange(T)
    order = np.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)  # (N, T)
    return np.take_along_axis(a, order[:, :, None], axis=1)


def _read_only_view(a: FloatArray) -> FloatArray:
    view = a.view()
    view.flags.writeable = False
    return view
