"""``SimpleRNN``: the exercise's layer, a thin stateful wrapper around the functional core.

It is also the course's trainable layer: ``SimpleRNN.create`` builds its weights with an
initializer (:mod:`reference_rnn.training.initializers`), ``update`` applies its optimizer
(:mod:`reference_rnn.training.optim`), and ``stateful=True`` carries the state from one forward to the
next as deep-learning-from-scratch-2's ``TimeRNN(stateful=True)`` does, for truncated BPTT.
"""

from __future__ import annotations

import numpy as np

from reference_rnn.core.elman import RNNCache, backward_sequence, forward_sequence
from reference_rnn.core.protocols import Initializer, Updater
from reference_rnn.core.validation import (
    FloatArray,
    as_real_array,
    check_flag,
    check_ndim,
    check_shape,
    check_size,
    check_weights,
    require_finite,
)

__all__ = ["SimpleRNN"]


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
    stateful : bool
        False (the default): a forward without ``h_prev`` starts from zeros. True: it starts from
        ``h``, the state the previous forward ended in (zeros at first), as
        deep-learning-from-scratch-2's ``TimeRNN(stateful=True)``. The gradient stops at the
        block's start (truncated BPTT): ``dh_prev`` is what ``TimeRNN`` calls ``dh``.
    optimizer : an optimizer (:mod:`reference_rnn.training.optim`) or None
        What ``update`` applies to ``params`` with ``grads``.

    Attributes
    ----------
    params : list ``[Wx, Wh, b]``
        The layer's own arrays; an optimizer may update them in place.
    grads : list ``[dWx, dWh, db]``
        Filled by ``backward``, in the dtype of the computation.
    dh_prev : (N, H) ndarray or None
        ``dL/dh_prev`` from the last ``backward``.
    h : (N, H) ndarray or None
        ``stateful=True`` only: the state the next forward without ``h_prev`` starts from (None:
        zeros). Set by each forward, ``set_state`` and ``reset_state``.
    """

    def __init__(
        self,
        Wx: object,
        Wh: object,
        b: object,
        return_sequences: bool = False,
        *,
        stateful: bool = False,
        optimizer: Updater | None = None,
    ) -> None:
        self.params: list[FloatArray] = [np.array(a) for a in check_weights(Wx, Wh, b)]
        for name, param in zip(("Wx", "Wh", "b"), self.params, strict=True):
            require_finite(name, param)
        self.grads: list[FloatArray] = [np.zeros_like(p) for p in self.params]
        self.return_sequences = check_flag("return_sequences", return_sequences)
        self.stateful = check_flag("stateful", stateful)
        if optimizer is not None and (
            isinstance(optimizer, type) or not hasattr(optimizer, "update")
        ):
            msg = (
                "optimizer must be an optimizer instance with an update(params, grads) method, "
                f"such as reference_rnn.optim.SGD(lr=0.1), got {optimizer!r}"
            )
            raise TypeError(msg)
        self.optimizer = optimizer
        self.dh_prev: FloatArray | None = None
        self.h: FloatArray | None = None
        self._cache: RNNCache | None = None

    @classmethod
    def create(
        cls,
        n_nodes1: int,
        n_nodes2: int,
        initializer: Initializer,
        optimizer: Updater | None = None,
        *,
        return_sequences: bool = False,
        stateful: bool = False,
    ) -> SimpleRNN:
        """The course's constructor: a layer from ``n_nodes1 = D`` inputs to ``n_nodes2 = H`` nodes.

        ``Wx = initializer.W(D, H)``, ``Wh = initializer.W(H, H)``, ``b = initializer.B(H)``, in
        that order (so a seeded initializer gives the same layer every time).
        """
        D, H = check_size("n_nodes1", n_nodes1), check_size("n_nodes2", n_nodes2)
        if isinstance(initializer, type) or not isinstance(initializer, Initializer):
            msg = (
                "initializer must be an initializer instance with methods W(n_nodes1, n_nodes2) "
                f"and B(n_nodes2), such as XavierInitializer(), got {initializer!r}"
            )
            raise TypeError(msg)
        weights: list[FloatArray] = []
        for call, value, shape in (
            ("initializer.W(n_nodes1, n_nodes2)", initializer.W(D, H), (D, H)),
            ("initializer.W(n_nodes2, n_nodes2)", initializer.W(H, H), (H, H)),
            ("initializer.B(n_nodes2)", initializer.B(H), (H,)),
        ):
            arr = as_real_array(call, value)
            check_shape(call, arr, shape, f"n_nodes1 = {D}, n_nodes2 = {H}")
            weights.append(arr)
        Wx, Wh, b = weights
        return cls(Wx, Wh, b, return_sequences, stateful=stateful, optimizer=optimizer)

    def forward(self, x: object, h_prev: object | None = None) -> FloatArray:
        """Run the layer over ``x (N, T, D)`` from ``h_prev (N, H)``.

        Without ``h_prev``: zeros, or with ``stateful=True`` the carried state ``h`` (zeros at
        first). Returns the final state ``(N, H)``, or every state ``(N, T, H)`` with
        ``return_sequences=True``; read-only views of the cache. A new call replaces the cache
        and, when stateful, the carried state.
        """
        self._cache = None  # a failed call must not leave the previous cache behind
        h0_name = "h_prev"
        if h_prev is None and self.stateful and self.h is not None:
            h_prev = self.h
            h0_name = (
                "the carried state h (from the last forward or set_state; reset_state() clears it)"
            )
        Wx, Wh, b = self.params
        h, self._cache = forward_sequence(x, h_prev, Wx, Wh, b, h0_name, "tanh", check_finite=True)
        if self.stateful:
            self.h = h[:, -1]
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

    def set_state(self, h: object) -> None:
        """The state ``(N, H)`` that the next forward without ``h_prev`` starts from (a copy)."""
        state = as_real_array("h", h)
        check_ndim("h", state, 2, "(N, H)")
        H = self.params[1].shape[0]
        check_shape("h", state, (state.shape[0], H), f"H = {H} from Wx")
        require_finite("h", state)
        self.h = np.array(state)

    def reset_state(self) -> None:
        """Forget the carried state: the next forward starts from zeros."""
        self.h = None

    def update(self) -> None:
        """One step of the layer's optimizer on ``params`` with ``grads``, in place."""
        if self.optimizer is None:
            msg = (
                "SimpleRNN.update needs an optimizer: "
                "SimpleRNN.create(n_nodes1, n_nodes2, initializer, optimizer=SGD(lr=0.1))"
            )
            raise RuntimeError(msg)
        self.optimizer.update(self.params, self.grads)
