"""``SimpleRNN``: the exercise's layer, a thin stateful wrapper around the functional core."""

from __future__ import annotations

import numpy as np

from reference_rnn._checks import (
    FloatArray,
    as_real_array,
    check_flag,
    check_shape,
    check_weights,
    require_finite,
)
from reference_rnn.functional import RNNCache, backward_sequence, forward_sequence


class SimpleRNN:
    """An Elman layer over whole sequences, as in the exercise (problems 1-3).

    ``h_t = tanh(x_t @ Wx + h_{t-1} @ Wh + b)`` for ``t = 0 .. T-1``, batch-first.

    Parameters
    ----------
    Wx : (D, H) array_like
    Wh : (H, H) array_like
    b : (H,) array_like
        Copied (integer arrays become float64), so the caller's arrays are never modified.
    return_sequences : bool
        False (the default, as in the exercise and Keras): ``forward`` returns the final state
        ``(N, H)``. True: every state ``(N, T, H)``.

    Attributes
    ----------
    params : list ``[Wx, Wh, b]``
        The layer's own arrays; an optimizer may update them in place.
    grads : list ``[dWx, dWh, db]``
        Filled by ``backward``, in the dtype of the computation.
    dh_prev : (N, H) ndarray or None
        ``dL/dh_prev`` from the last ``backward``.
    """

    def __init__(self, Wx: object, Wh: object, b: object, return_sequences: bool = False) -> None:
        self.params: list[FloatArray] = [np.array(a) for a in check_weights(Wx, Wh, b)]
        for name, param in zip(("Wx", "Wh", "b"), self.params, strict=True):
            require_finite(name, param)
        self.grads: list[FloatArray] = [np.zeros_like(p) for p in self.params]
        self.return_sequences = check_flag("return_sequences", return_sequences)
        self.dh_prev: FloatArray | None = None
        self._cache: RNNCache | None = None

    def forward(self, x: object, h_prev: object | None = None) -> FloatArray:
        """Run the layer over ``x (N, T, D)`` from ``h_prev (N, H)`` (zeros if None).

        Returns the final state ``(N, H)``, or every state ``(N, T, H)`` with
        ``return_sequences=True``; read-only views of the cache. A new call replaces the cache.
        """
        self._cache = None  # a failed call must not leave the previous cache behind
        Wx, Wh, b = self.params
        h, self._cache = forward_sequence(x, h_prev, Wx, Wh, b, "h_prev", "tanh", check_finite=True)
        return h if self.return_sequences else h[:, -1]

    def backward(self, dout: object) -> FloatArray:
        """Gradients for the last ``forward``, given ``dout = dL/d(forward's output)``.

        Returns ``dx (N, T, D)``; fills ``grads`` with ``[dWx, dWh, db]`` and ``dh_prev``.
        """
        if self._cache is None:
            msg = "SimpleRNN.backward needs a successful forward first"
            raise RuntimeError(msg)
        _, N, H = self._cache.h.shape
        if self.return_sequences:
            dh: object = dout
        else:
            dlast = as_real_array("dout", dout)
            check_shape("dout", dlast, (N, H), "the shape of forward's output")
            T = self._cache.h.shape[0] - 1
            dh = np.zeros((N, T, H), dtype=dlast.dtype)
            dh[:, -1] = dlast  # only the final state reaches the loss
        dx, dh_prev, dWx, dWh, db = backward_sequence(dh, self._cache, "dout", check_finite=True)
        self.grads[:] = [dWx, dWh, db]
        self.dh_prev = dh_prev
        return dx
