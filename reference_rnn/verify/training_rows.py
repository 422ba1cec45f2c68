"""The verification report's training rows: optimizers, clipping, training steps, initializers.

:func:`planned` gives the rows that ``python -m reference_rnn verify`` adds for the training parts
(:mod:`reference_rnn.training.optim`, :mod:`reference_rnn.training.initializers`, ``SimpleRNN(stateful=True)``,
:class:`reference_rnn.training.models.RNNClassifier`), each against an independent answer:

- torch (:mod:`reference_rnn.oracles.torch_training`, float64), where torch is installed: each
  optimizer with its documented options, 50 steps from the same parameters with the same
  gradients; ``clip_grad_norm`` (norm types 2, 1 and inf) and ``clip_grad_value``; truncated BPTT
  over three blocks; 20 training steps of the classifier. The error is the worst
  ``max|ours - torch| / max|torch|`` over every step and array.
- the initializers' rows: :mod:`reference_rnn.verify.initializer_rows`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from functools import partial
from types import ModuleType
from typing import Any

import numpy as np

from reference_rnn.core.measure import TOLERANCE, scaled_error
from reference_rnn.core.validation import FloatArray
from reference_rnn.layers.simple_rnn import SimpleRNN
from reference_rnn.oracles import torch_training
from reference_rnn.training import initializers, optim
from reference_rnn.training.models import RNNClassifier
from reference_rnn.verify import initializer_rows
from reference_rnn.verify.rows import Planned

__all__ = ["planned"]

#: Steps of each optimizer run.
STEPS = 50
#: The parameters that the optimizers and the clipping are given.
SHAPES = {"Wx": (3, 4), "Wh": (4, 4), "b": (4,)}
#: Our optimizers' torch names.
TORCH_NAMES = {"SGD": "SGD", "AdaGrad": "Adagrad", "RMSprop": "RMSprop", "Adam": "Adam"}

# Each optimizer with torch's defaults, and with every documented option set. The values move each
# option's effect well above rounding; alpha and beta1 below 0.5 take the other branch of torch's
# lerp. Nesterov momentum excludes dampening, so SGD has both.
OPTIMIZER_CASES: list[tuple[type[optim.Optimizer], dict[str, Any]]] = [
    (optim.SGD, {}),
    (optim.SGD, {"lr": 0.05, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.1}),
    (optim.SGD, {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1}),
    (optim.AdaGrad, {}),
    (
        optim.AdaGrad,
        {
            "lr": 0.1,
            "lr_decay": 0.05,
            "weight_decay": 0.1,
            "initial_accumulator_value": 0.5,
            "eps": 1e-2,
        },
    ),
    (optim.RMSprop, {}),
    (
        optim.RMSprop,
        {"alpha": 0.4, "eps": 1e-2, "weight_decay": 0.1, "momentum": 0.9, "centered": True},
    ),
    (optim.Adam, {}),
    (
        optim.Adam,
        {"lr": 0.01, "betas": (0.3, 0.8), "eps": 1e-2, "weight_decay": 0.1, "amsgrad": True},
    ),
]
NORM_TYPES = (2.0, 1.0, math.inf)
#: clip_grad_value's bound: some entries of the gradients are beyond it, most are not.
CLIP_VALUE = 1.5

#: The classifier's training steps, its SGD and its clipping: the end-to-end check.
TRAINING_STEPS = 20
CLASSIFIER_SGD: dict[str, Any] = {"lr": 0.5, "momentum": 0.9}
CLASSIFIER_CLIP = 0.8
#: Rounding can grow from one training step to the next; measured here: about 2e-15.
END_TO_END_TOLERANCE = 1e-10


def planned(available: Mapping[str, ModuleType]) -> Iterator[Planned]:
    """The training rows: against torch when ``available`` (oracle name -> module) has it."""
    if "torch" in available:
        yield from _torch_rows()
    yield from initializer_rows.planned()


def _torch_rows() -> Iterator[Planned]:
    tolerance = TOLERANCE["float64"]
    for optimizer, options in OPTIMIZER_CASES:
        yield Planned(
            f"{_call(optimizer.__name__, options)}: {STEPS} steps",
            "torch",
            "float64",
            tolerance,
            partial(optimizer_error, optimizer, options),
        )
    for norm_type in NORM_TYPES:
        yield Planned(
            f"clip_grad_norm(norm_type={norm_type}): gradients and total norm, clipped and not",
            "torch",
            "float64",
            tolerance,
            partial(clip_grad_norm_error, norm_type),
        )
    yield Planned(
        f"clip_grad_value(clip_value={CLIP_VALUE}): gradients",
        "torch",
        "float64",
        tolerance,
        clip_grad_value_error,
    )
    for return_sequences in (False, True):
        yield Planned(
            f"SimpleRNN stateful{', return_sequences' if return_sequences else ''}: 3 blocks of "
            "truncated BPTT, outputs, dh_prev, every gradient",
            "torch",
            "float64",
            tolerance,
            partial(truncated_bptt_error, return_sequences),
        )
    yield Planned(
        f"RNNClassifier: {TRAINING_STEPS} steps of {_call('SGD', CLASSIFIER_SGD)}, "
        f"clip={CLASSIFIER_CLIP}: losses and weights",
        "torch",
        "float64",
        END_TO_END_TOLERANCE,
        classifier_error,
    )


def _call(name: str, options: Mapping[str, Any]) -> str:
    """``Adam(lr=0.01, amsgrad=True)``; ``Adam() (defaults)`` without options."""
    if not options:
        return f"{name}() (defaults)"
    return f"{name}({', '.join(f'{key}={value!r}' for key, value in options.items())})"


def _worst(ours: Mapping[str, object], theirs: Mapping[str, object]) -> float:
    """The worst ``scaled_error`` over the arrays of ``theirs``, each against ours of that key."""
    return max(scaled_error(ours[key], value) for key, value in theirs.items())


# -- against torch ------------------------------------------------------------------------------


def _gradients(seed: int) -> dict[str, FloatArray]:
    """One gradient per parameter of :data:`SHAPES`, each at its own scale."""
    rng = np.random.default_rng(seed)
    return {key: rng.standard_normal(shape) * rng.uniform(0.1, 3) for key, shape in SHAPES.items()}


def optimizer_error(optimizer: type[optim.Optimizer], options: Mapping[str, Any]) -> float:
    """:data:`STEPS` steps of ``optimizer(**options)`` against torch.optim's, the worst step.

    The same parameters and the same gradients on both sides; the gradients' scale changes from
    step to step, so that amsgrad's maximum moves.
    """
    rng = np.random.default_rng(0)
    params = {key: rng.uniform(-0.5, 0.5, shape) for key, shape in SHAPES.items()}
    grads = [_gradients(seed) for seed in range(1, STEPS + 1)]
    expected = torch_training.optimizer_steps(
        TORCH_NAMES[optimizer.__name__], options, params, grads
    )
    opt = optimizer(**options)
    worst = 0.0
    for step_grads, theirs in zip(grads, expected, strict=True):
        opt.update(params, step_grads)
        worst = max(worst, _worst(params, theirs))
    return worst


def clip_grad_norm_error(norm_type: float) -> float:
    """``clip_grad_norm`` against ``clip_grad_norm_``: the gradients and the total norm.

    Once with a ``max_norm`` below the total norm (clipped) and once above it (left alone).
    """
    worst = 0.0
    for max_norm in (0.5, 1e3):
        grads = _gradients(0)
        expected, expected_total = torch_training.clip_grad_norm(grads, max_norm, norm_type)
        total = optim.clip_grad_norm(grads, max_norm, norm_type)
        worst = max(worst, abs(total - expected_total) / expected_total, _worst(grads, expected))
    return worst


def clip_grad_value_error() -> float:
    """``clip_grad_value`` against ``clip_grad_value_``, at a value that clips some entries."""
    grads = _gradients(0)
    expected = torch_training.clip_grad_value(grads, CLIP_VALUE)
    optim.clip_grad_value(grads, CLIP_VALUE)
    return _worst(grads, expected)


def truncated_bptt_error(return_sequences: bool) -> float:
    """A stateful SimpleRNN over three blocks against torch's nn.RNN with the state detached.

    Each block: the outputs, ``dx``, ``dh_prev``, ``dWx``, ``dWh``, ``db`` and the carried state,
    for an arbitrary upstream gradient.
    """
    N, T, D, H = 3, 4, 2, 5
    layer = SimpleRNN.create(
        D,
        H,
        initializers.TorchInitializer(seed=0),
        return_sequences=return_sequences,
        stateful=True,
    )
    Wx, Wh, b = (p.copy() for p in layer.params)
    rng = np.random.default_rng(1)
    dout_shape = (N, T, H) if return_sequences else (N, H)
    blocks = [(rng.standard_normal((N, T, D)), rng.standard_normal(dout_shape)) for _ in range(3)]
    expected = torch_training.truncated_bptt(Wx, Wh, b, blocks, return_sequences)
    worst = 0.0
    for (x, dout), theirs in zip(blocks, expected, strict=True):
        out = layer.forward(x)  # no h_prev: the state the last block ended in
        dx = layer.backward(dout)
        dWx, dWh, db = layer.grads
        ours = {"out": out, "dx": dx, "dh_prev": layer.dh_prev, "h_n": layer.h}
        ours |= {"dWx": dWx, "dWh": dWh, "db": db}
        worst = max(worst, _worst(ours, theirs))
    return worst


def classifier_error() -> float:
    """:data:`TRAINING_STEPS` of ``RNNClassifier.train_step`` against nn.RNN -> nn.Linear -> loss.

    The relative error of each step's loss and the scaled error of every weight after it.
    """
    N, T, D, H, K = 8, 5, 3, 6, 4
    model = RNNClassifier(
        H,
        initializer=initializers.TorchInitializer(seed=2),
        optimizer=optim.SGD(**CLASSIFIER_SGD),
        clip=CLASSIFIER_CLIP,
        verbose=False,
    ).build(D, np.arange(K))
    rng = np.random.default_rng(3)
    batches = [
        (rng.standard_normal((N, T, D)), rng.integers(0, K, N)) for _ in range(TRAINING_STEPS)
    ]
    # torch's whole run first, from the weights that ours start from (train_step moves them)
    losses, weights = torch_training.classifier_steps(
        model.params, batches, "SGD", CLASSIFIER_SGD, CLASSIFIER_CLIP
    )
    worst = 0.0
    for (x, y), expected_loss, theirs in zip(batches, losses, weights, strict=True):
        loss = model.train_step(x, y)
        worst = max(worst, abs(loss - expected_loss) / expected_loss, _worst(model.params, theirs))
    return worst
