"""Optimizers with ``torch.optim``'s names, defaults and update rules.

    SGD(lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False)
    AdaGrad(lr=0.01, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10)
    RMSprop(lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False)
    Adam(lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False)

Each applies the update of its torch namesake (``torch.optim.SGD``, ``Adagrad``, ``RMSprop``,
``Adam``), operation for operation, so that the same parameters and gradients give torch's
parameters to rounding. One method, deep-learning-from-scratch-2's interface:

    optimizer.update(params, grads)   # two lists of arrays, or two dicts with the same keys
    optimizer.update(layer)           # anything with .params and .grads (SimpleRNN, RNN, ...)

The parameters are updated in place. The state (momentum buffers, running averages, the step
count) is kept per position or key, so one optimizer serves one set of parameters. An update is
checked whole before anything changes: the gradients after their cast to each parameter's dtype,
then the new parameters and state, computed aside and written only when every one is finite (a
``FloatingPointError`` otherwise). A refused update changes nothing, parameters or state.

``clip_grad_norm(grads, max_norm, norm_type=2.0)`` and ``clip_grad_value(grads, clip_value)``
(:mod:`reference_rnn.training.clipping`, importable from here too) are
``torch.nn.utils.clip_grad_norm_`` and ``clip_grad_value_`` on the gradients themselves.

Unlike torch, a learning rate of 0 is refused (it would silently train nothing), and so are
non-finite gradients (torch would write NaN into the parameters).
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from reference_rnn.core.validation import (
    FloatArray,
    Key,
    check_at_least,
    check_flag,
    check_real,
)
from reference_rnn.training.clipping import clip_grad_norm, clip_grad_value
from reference_rnn.training.optim_arguments import checked_pairs

__all__ = ["SGD", "AdaGrad", "Adam", "Optimizer", "RMSprop", "clip_grad_norm", "clip_grad_value"]

State = dict[str, Any]


class Optimizer(ABC):
    """The shared part: argument checks, the state per parameter, ``update``."""

    def __init__(self, lr: float, weight_decay: float) -> None:
        self.lr = check_at_least("learning rate", "lr", lr, 0.0, strict=True)
        self.weight_decay = check_at_least("weight_decay value", "weight_decay", weight_decay, 0.0)
        #: per position (list parameters) or key (dict parameters): step count and buffers
        self.state: dict[Key, State] = {}

    def update(self, params: object, grads: object = None) -> None:
        """One step: ``update(params, grads)`` (two lists, or two dicts), or ``update(layer)``.

        The arrays in ``params`` are updated in place; ``grads`` are not modified.
        """
        pairs = checked_pairs(params, grads)
        for key, param, _ in pairs:
            state = self.state.get(key)
            if state is not None and state["shape"] != param.shape:
                msg = (
                    f"params[{key!r}] has shape {param.shape}, but this optimizer's state for it "
                    f"was made for {state['shape']}: use one optimizer per set of parameters"
                )
                raise ValueError(msg)
        staged = []
        for key, param, grad in pairs:
            state = copy.deepcopy(self.state.get(key, {"shape": param.shape, "step": 0}))
            state["step"] += 1
            new = param.copy()
            with np.errstate(all="ignore"):  # checked just below
                self._step(new, grad, state)
            buffers = [value for value in state.values() if isinstance(value, np.ndarray)]
            if not all(np.isfinite(a).all() for a in (new, *buffers)):
                msg = (
                    f"the update of params[{key!r}] overflowed: it is not finite in {param.dtype} "
                    "(the gradient or a step too large for the dtype); nothing was updated"
                )
                raise FloatingPointError(msg)
            staged.append((key, param, new, state))
        for key, param, new, state in staged:
            param[...] = new
            self.state[key] = state

    @abstractmethod
    def _step(self, param: FloatArray, grad: FloatArray, state: State) -> None:
        """Update ``param`` in place; ``state["step"]`` already counts this step."""

    def _decayed(self, param: FloatArray, grad: FloatArray) -> FloatArray:
        """The gradient with L2 weight decay, as torch adds it (a new array)."""
        return grad + self.weight_decay * param if self.weight_decay != 0 else grad.copy()


class SGD(Optimizer):
    """``torch.optim.SGD``: momentum with dampening, Nesterov momentum, weight decay.

    ``buf = g`` at the first step, then ``buf = momentum * buf + (1 - dampening) * g``;
    ``p -= lr * (g + momentum * buf if nesterov else buf)`` (``g`` when momentum is 0).
    """

    def __init__(
        self,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        super().__init__(lr, weight_decay)
        self.momentum = check_at_least("momentum value", "momentum", momentum, 0.0)
        self.dampening = check_real("dampening", dampening)
        self.nesterov = check_flag("nesterov", nesterov)
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            msg = "Nesterov momentum requires a momentum and zero dampening"
            raise ValueError(msg)

    def _step(self, param: FloatArray, grad: FloatArray, state: State) -> None:
        g = self._decayed(param, grad)
        if self.momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = g.copy()
            else:
                buf *= self.momentum
                buf += (1 - self.dampening) * g
            if self.nesterov:
                g += self.momentum * buf
            else:
                g = buf
        param -= self.lr * g


class AdaGrad(Optimizer):
    """``torch.optim.Adagrad``: ``sum += g**2``; ``p -= lr_t * g / (sqrt(sum) + eps)``.

    ``lr_t = lr / (1 + (step - 1) * lr_decay)``, ``sum`` starts at ``initial_accumulator_value``.
    """

    def __init__(
        self,
        lr: float = 0.01,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
    ) -> None:
        super().__init__(lr, weight_decay)
        self.lr_decay = check_at_least("lr_decay value", "lr_decay", lr_decay, 0.0)
        self.initial_accumulator_value = check_at_least(
            "initial_accumulator_value value",
            "initial_accumulator_value",
            initial_accumulator_value,
            0.0,
        )
        self.eps = check_at_least("epsilon value", "eps", eps, 0.0)

    def _step(self, param: FloatArray, grad: FloatArray, state: State) -> None:
        if "sum" not in state:
            state["sum"] = np.full_like(param, self.initial_accumulator_value)
        g = self._decayed(param, grad)
        clr = self.lr / (1 + (state["step"] - 1) * self.lr_decay)
        state["sum"] += g * g
        std = np.sqrt(state["sum"]) + self.eps
        param -= clr * (g / std)


class RMSprop(Optimizer):
    """``torch.optim.RMSprop``: ``v = alpha * v + (1 - alpha) * g**2``; ``p -= lr * g / (sqrt(v) + eps)``.

    ``centered`` subtracts the square of the running mean of ``g`` from ``v`` under the root;
    ``momentum > 0`` keeps ``buf = momentum * buf + g / (sqrt(v) + eps)`` and steps by ``lr * buf``.
    """

    def __init__(
        self,
        lr: float = 0.01,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
    ) -> None:
        super().__init__(lr, weight_decay)
        self.alpha = check_at_least("alpha value", "alpha", alpha, 0.0)
        self.eps = check_at_least("epsilon value", "eps", eps, 0.0)
        self.momentum = check_at_least("momentum value", "momentum", momentum, 0.0)
        self.centered = check_flag("centered", centered)

    def _step(self, param: FloatArray, grad: FloatArray, state: State) -> None:
        if "square_avg" not in state:
            state["square_avg"] = np.zeros_like(param)
            if self.momentum > 0:
                state["momentum_buffer"] = np.zeros_like(param)
            if self.centered:
                state["grad_avg"] = np.zeros_like(param)
        g = self._decayed(param, grad)
        square_avg = state["square_avg"]
        square_avg *= self.alpha
        square_avg += (1 - self.alpha) * g * g
        if self.centered:
            grad_avg = state["grad_avg"]
            _lerp(grad_avg, g, 1 - self.alpha)
            avg = np.sqrt(square_avg - grad_avg * grad_avg)
        else:
            avg = np.sqrt(square_avg)
        avg += self.eps
        if self.momentum > 0:
            buf = state["momentum_buffer"]
            buf *= self.momentum
            buf += g / avg
            param -= self.lr * buf
        else:
            param -= self.lr * (g / avg)


class Adam(Optimizer):
    """``torch.optim.Adam`` (L2 weight decay added to the gradient, as torch's ``Adam`` does).

    ``m = beta1 * m + (1 - beta1) * g``, ``v = beta2 * v + (1 - beta2) * g**2``;
    ``p -= lr / (1 - beta1**step) * m / (sqrt(v) / sqrt(1 - beta2**step) + eps)``, with
    ``v`` replaced by its running maximum under ``amsgrad``.
    """

    def __init__(
        self,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(lr, weight_decay)
        try:
            beta1, beta2 = betas
        except (TypeError, ValueError):
            msg = f"betas must be a pair (beta1, beta2), got {betas!r}"
            raise TypeError(msg) from None
        self.betas = (_beta(0, beta1), _beta(1, beta2))
        self.eps = check_at_least("epsilon value", "eps", eps, 0.0)
        self.amsgrad = check_flag("amsgrad", amsgrad)

    def _step(self, param: FloatArray, grad: FloatArray, state: State) -> None:
        if "exp_avg" not in state:
            state["exp_avg"] = np.zeros_like(param)
            state["exp_avg_sq"] = np.zeros_like(param)
            if self.amsgrad:
                state["max_exp_avg_sq"] = np.zeros_like(param)
        beta1, beta2 = self.betas
        step = state["step"]
        g = self._decayed(param, grad)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        _lerp(exp_avg, g, 1 - beta1)
        exp_avg_sq *= beta2
        exp_avg_sq += (1 - beta2) * g * g
        step_size = self.lr / (1 - beta1**step)
        bias_correction2_sqrt = (1 - beta2**step) ** 0.5
        if self.amsgrad:
            np.maximum(state["max_exp_avg_sq"], exp_avg_sq, out=state["max_exp_avg_sq"])
            second = state["max_exp_avg_sq"]
        else:
            second = exp_avg_sq
        denom = np.sqrt(second) / bias_correction2_sqrt + self.eps
        param -= step_size * (exp_avg / denom)


# -- checks -------------------------------------------------------------------------------------


def _beta(index: int, value: object) -> float:
    beta = check_real(f"betas[{index}]", value)
    if not 0.0 <= beta < 1.0:
        msg = (
            f"Invalid beta parameter at index {index}: {value!r} (betas[{index}] must be in [0, 1))"
        )
        raise ValueError(msg)
    return beta


def _lerp(start: FloatArray, end: FloatArray, weight: float) -> None:
    """``start += weight * (end - start)`` in place, rounded as ``torch.lerp_`` rounds it."""
    if weight < 0.5:
        start += weight * (end - start)
    else:
        start[...] = end - (end - start) * (1 - weight)
