"""``RNNClassifier``: the course's many-to-one scratch classifier, trained with this package's parts.

Shapes: N sequences, T time steps, D features, H = n_nodes hidden units, K classes.

    h      = SimpleRNN(X)              X (N, T, D) -> the final state h (N, H)
    logits = h @ W + c                 W (H, K), c (K,)
    loss   = mean_n -log softmax(logits)[n, y_n]

One training step is forward, backward, ``clip_grad_norm`` (when ``clip``) and one ``update`` of
the optimizer over every parameter: what ``torch.nn.RNN`` -> ``nn.Linear`` ->
``nn.CrossEntropyLoss`` with ``torch.optim`` and ``clip_grad_norm_`` do (torch's RNN has two
biases where this has one ``b``: freeze ``bias_hh`` at zero to compare).
"""

from __future__ import annotations

import copy
import sys
from typing import Any

import numpy as np
from numpy.typing import NDArray

from reference_rnn.core.validation import (
    FloatArray,
    as_array,
    as_real_array,
    check_flag,
    check_ndim,
    check_real,
    check_seed,
    check_shape,
    check_size,
    require_finite,
)
from reference_rnn.layers.simple_rnn import SimpleRNN
from reference_rnn.training.initializers import Initializer, XavierInitializer
from reference_rnn.training.optim import Adam, Optimizer, clip_grad_norm

__all__ = ["RNNClassifier"]

_BAR = 30  # characters of the progress bar


class RNNClassifier:
    """A SimpleRNN, a fully connected layer and softmax cross-entropy, trained by ``fit``.

    Parameters
    ----------
    n_nodes : int
        H, the hidden units of the SimpleRNN.
    initializer : initializer instance or None
        Draws every weight (``Wx``, ``Wh``, ``b``, then ``W``, ``c``); None:
        ``XavierInitializer(seed=seed)``.
    optimizer : optimizer instance or None
        The template that ``fit`` copies (each fit starts with a fresh state); None: ``Adam()``.
    epochs, batch_size : int
    clip : float or None
        ``max_norm`` of ``clip_grad_norm`` over all the gradients at every step; None: no clipping.
    seed : int, numpy.random.Generator or None
        The order of the training batches (and the default initializer).
    verbose : bool
        A progress bar on stderr, when stderr is a terminal; nothing when it is not.

    Attributes (after ``fit``)
    --------------------------
    classes_ : (K,) array, the sorted labels
    params, grads : dict of arrays, keys ``rnn.Wx``, ``rnn.Wh``, ``rnn.b``, ``fc.W``, ``fc.b``
        The live parameters and the gradients of the last ``train_step``.
    optimizer_ : the optimizer in use, with its state
    loss_history : list of float
        Per epoch, the mean training loss over its batches.
    val_loss_history : list of float
        Per epoch, the loss on ``(X_val, y_val)`` after it (empty without validation data).
    """

    def __init__(
        self,
        n_nodes: int = 32,
        *,
        initializer: Initializer | None = None,
        optimizer: Optimizer | None = None,
        epochs: int = 10,
        batch_size: int = 32,
        clip: float | None = None,
        seed: int | np.random.Generator | None = None,
        verbose: bool = True,
    ) -> None:
        self.n_nodes = check_size("n_nodes", n_nodes)
        for name, given, needs, example in (
            ("initializer", initializer, "W", "XavierInitializer()"),
            ("optimizer", optimizer, "update", "Adam()"),
        ):
            if given is not None and (isinstance(given, type) or not hasattr(given, needs)):
                msg = f"{name} must be an instance such as {example} or None, got {given!r}"
                raise TypeError(msg)
        self.initializer = initializer
        self.optimizer = optimizer
        self.epochs = check_size("epochs", epochs)
        self.batch_size = check_size("batch_size", batch_size)
        self.clip = None if clip is None else check_real("clip", clip)
        if self.clip is not None and self.clip <= 0:
            msg = f"clip must be greater than zero (a max_norm) or None, got {clip!r}"
            raise ValueError(msg)
        self.rng = check_seed("seed", seed)
        self.verbose = check_flag("verbose", verbose)
        self.params: dict[str, FloatArray] = {}
        self.grads: dict[str, FloatArray] = {}
        self.loss_history: list[float] = []
        self.val_loss_history: list[float] = []

    # -- building and training ----------------------------------------------------------------

    def build(self, n_features: int, classes: object) -> RNNClassifier:
        """Fresh weights for ``n_features = D`` inputs and the labels ``classes`` (K >= 2, sorted).

        ``fit`` calls it; call it yourself to set the weights before ``train_step``.
        """
        D = check_size("n_features", n_features)
        labels = _classes("classes", _label_kind("classes", as_array("classes", classes)))
        initializer = self.initializer
        if initializer is None:
            initializer = XavierInitializer(seed=self.rng)
        H, K = self.n_nodes, labels.size
        rnn = SimpleRNN.create(D, H, initializer)
        W = as_real_array("initializer.W(n_nodes, n_classes)", initializer.W(H, K))
        check_shape("initializer.W(n_nodes, n_classes)", W, (H, K), f"H = {H}, K = {K}")
        c = as_real_array("initializer.B(n_classes)", initializer.B(K))
        check_shape("initializer.B(n_classes)", c, (K,), f"K = {K}")
        self._rnn = rnn
        Wx, Wh, b = rnn.params
        self.params = {
            "rnn.Wx": Wx,
            "rnn.Wh": Wh,
            "rnn.b": b,
            "fc.W": np.array(W),
            "fc.b": np.array(c),
        }
        self.grads = {}
        self.classes_ = labels
        self.optimizer_ = copy.deepcopy(self.optimizer) if self.optimizer is not None else Adam()
        self.loss_history, self.val_loss_history = [], []
        return self

    def fit(
        self, X: object, y: object, X_val: object = None, y_val: object = None
    ) -> RNNClassifier:
        """Train from fresh weights for ``epochs`` passes over ``X (N, T, D)``, ``y (N,)``.

        ``X_val (M, T', D)`` and ``y_val (M,)``, together or not at all, give ``val_loss_history``.
        Everything is checked before the model changes. Returns the classifier.
        """
        X_arr = self._inputs("X", X, None)
        y_arr = _label_array("y", y, X_arr.shape[0], "X")
        if (X_val is None) != (y_val is None):
            msg = "X_val and y_val go together: give both or neither"
            raise ValueError(msg)
        classes = _classes("y", y_arr)
        targets = _indices("y", y_arr, classes)
        validation = None
        if X_val is not None:
            Xv = self._inputs("X_val", X_val, X_arr.shape[2])
            yv = _label_array("y_val", y_val, Xv.shape[0], "X_val")
            validation = Xv, _indices("y_val", yv, classes)
        self.build(X_arr.shape[2], classes)
        N = X_arr.shape[0]
        show = self.verbose and sys.stderr.isatty()
        for epoch in range(self.epochs):
            order = self.rng.permutation(N)
            total = 0.0
            for start in range(0, N, self.batch_size):
                batch = order[start : start + self.batch_size]
                total += self._step(X_arr[batch], targets[batch]) * batch.size
            self.loss_history.append(total / N)
            if validation is not None:
                self.val_loss_history.append(self._loss(*validation))
            if show:
                self._progress(epoch + 1)
        if show:
            sys.stderr.write("\n")
        return self

    def train_step(self, X: object, y: object) -> float:
        """One step on the batch ``X (N, T, D)``, ``y (N,)``; returns the loss before the step.

        Fills ``grads`` (clipped, when ``clip``) and updates ``params`` in place.
        """
        self._fitted()
        X_arr = self._inputs("X", X, self._n_features)
        y_arr = _label_array("y", y, X_arr.shape[0], "X")
        return self._step(X_arr, _indices("y", y_arr, self.classes_))

    # -- using it -----------------------------------------------------------------------------

    def predict_proba(self, X: object) -> FloatArray:
        """``(N, K)`` class probabilities for ``X (N, T, D)``, columns in the order of ``classes_``."""
        self._fitted()
        logits = self._logits(self._inputs("X", X, self._n_features))
        return np.exp(_log_softmax(logits))

    def predict(self, X: object) -> NDArray[Any]:
        """``(N,)`` the most probable label of each sequence of ``X (N, T, D)``."""
        proba = self.predict_proba(X)
        labels: NDArray[Any] = self.classes_[np.argmax(proba, axis=1)]
        return labels

    def loss(self, X: object, y: object) -> float:
        """The mean cross-entropy on ``X (N, T, D)``, ``y (N,)``."""
        self._fitted()
        X_arr = self._inputs("X", X, self._n_features)
        y_arr = _label_array("y", y, X_arr.shape[0], "X")
        return self._loss(X_arr, _indices("y", y_arr, self.classes_))

    # -- inside -------------------------------------------------------------------------------

    @property
    def _n_features(self) -> int:
        return int(self.params["rnn.Wx"].shape[0])

    def _logits(self, X: FloatArray) -> FloatArray:
        h = self._rnn.forward(X)  # (N, H), the final state
        logits: FloatArray = h @ self.params["fc.W"] + self.params["fc.b"]
        return logits

    def _loss(self, X: FloatArray, targets: NDArray[np.intp]) -> float:
        logp = _log_softmax(self._logits(X))
        return float(-logp[np.arange(len(targets)), targets].mean())

    def _step(self, X: FloatArray, targets: NDArray[np.intp]) -> float:
        N = X.shape[0]
        h = self._rnn.forward(X)  # (N, H)
        logp = _log_softmax(h @ self.params["fc.W"] + self.params["fc.b"])  # (N, K)
        loss = float(-logp[np.arange(N), targets].mean())
        dlogits = np.exp(logp)  # softmax - one_hot, over N for the mean
        dlogits[np.arange(N), targets] -= 1
        dlogits /= N
        dh = dlogits @ self.params["fc.W"].T  # (N, H)
        self._rnn.backward(dh)
        dWx, dWh, db = self._rnn.grads
        self.grads = {
            "rnn.Wx": dWx,
            "rnn.Wh": dWh,
            "rnn.b": db,
            "fc.W": h.T @ dlogits,
            "fc.b": dlogits.sum(axis=0),
        }
        if self.clip is not None:
            clip_grad_norm(self.grads, self.clip)
        self.optimizer_.update(self.params, self.grads)
        return loss

    def _inputs(self, name: str, X: object, D: int | None) -> FloatArray:
        arr = as_real_array(name, X)
        check_ndim(name, arr, 3, "(N, T, D)")
        if arr.shape[0] == 0 or arr.shape[1] == 0:
            msg = f"{name} must have at least one sequence and one time step, got shape {arr.shape}"
            raise ValueError(msg)
        if D is not None and arr.shape[2] != D:
            msg = f"{name} must have D = {D} features on its last axis (as in fit), got {arr.shape}"
            raise ValueError(msg)
        require_finite(name, arr)
        return arr

    def _fitted(self) -> None:
        if not self.params:
            msg = "RNNClassifier is not fitted: call fit (or build) first"
            raise RuntimeError(msg)

    def _progress(self, epoch: int) -> None:
        done = _BAR * epoch // self.epochs
        line = f"\repoch {epoch}/{self.epochs} [{'#' * done}{'.' * (_BAR - done)}]"
        line += f" loss {self.loss_history[-1]:.4f}"
        if self.val_loss_history:
            line += f" val_loss {self.val_loss_history[-1]:.4f}"
        sys.stderr.write(line)
        sys.stderr.flush()


def _label_array(name: str, y: object, N: int, X_name: str) -> NDArray[Any]:
    """``y`` as a 1-D array with one label per sequence of ``X``."""
    labels = as_array(name, y)
    if labels.shape != (N,):
        msg = (
            f"{name} must have shape ({N},), one label per sequence of {X_name}, got {labels.shape}"
        )
        raise ValueError(msg)
    return _label_kind(name, labels)


def _label_kind(name: str, labels: NDArray[Any]) -> NDArray[Any]:
    """Labels that sort: integers, bools, strings or finite floats (not objects, not complex)."""
    if labels.dtype.kind not in "biufUS":
        msg = (
            f"{name} must hold integer, string or real labels, got dtype {labels.dtype} "
            "(convert object labels with np.asarray(y, dtype=int) or dtype=str)"
        )
        raise TypeError(msg)
    if labels.dtype.kind == "f" and not np.isfinite(labels).all():
        msg = f"{name} must not hold NaN or inf labels"
        raise ValueError(msg)
    return labels


def _classes(name: str, labels: NDArray[Any]) -> NDArray[Any]:
    """The sorted distinct labels; at least two."""
    classes = np.unique(labels)
    if labels.ndim != 1 or classes.size < 2:
        msg = f"{name} must hold at least two distinct labels, got {classes.tolist()}"
        raise ValueError(msg)
    return classes


def _indices(name: str, labels: NDArray[Any], classes: NDArray[Any]) -> NDArray[np.intp]:
    """The index of each label in ``classes``; a label that is not one of them is an error."""
    index = np.searchsorted(classes, labels)
    known = (index < classes.size) & (classes[np.minimum(index, classes.size - 1)] == labels)
    if not known.all():
        msg = (
            f"{name} has labels that are not among the classes {classes.tolist()}: "
            f"{np.unique(labels[~known]).tolist()}"
        )
        raise ValueError(msg)
    return index


def _log_softmax(logits: FloatArray) -> FloatArray:
    """``log softmax`` over the last axis of ``(N, K)``, shifted by the row maximum for range."""
    z = logits - logits.max(axis=1, keepdims=True)
    logp: FloatArray = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return logp
