"""Hostile calls of the library (issue 26): each refused in words, or taken as it is meant.

A layer too large for the machine is a MemoryError before anything is allocated; parameters that
share memory are refused by the optimizers; a torch tensor is its values (detached, on the CPU,
widened where NumPy lacks its dtype) or a TypeError that names the argument.
"""

from __future__ import annotations

import re
from types import ModuleType

import numpy as np
import pytest

import reference_rnn as rr
from reference_rnn import optim
from reference_rnn.core import config as config_module
from reference_rnn.core.config import FALLBACK_MEMORY, RNNConfig, physical_memory

# -- a layer larger than the machine ---------------------------------------------------------------


def test_a_billion_layers_is_a_memory_error_before_anything_is_allocated(monkeypatch):
    monkeypatch.setattr(config_module, "physical_memory", lambda: 16 * 2**30)
    expected = (
        "the parameters of (input_size=3, hidden_size=4, num_layers=1000000000) in float64 would "
        "need 319,999,999,968 bytes (298.0 GiB), more than this machine's physical memory "
        "(16.0 GiB): make hidden_size, num_layers or input_size smaller"
    )
    with pytest.raises(MemoryError, match=f"^{re.escape(expected)}$"):
        rr.RNN(3, 4, num_layers=10**9)


def test_the_limit_is_the_machine_s_physical_memory_in_the_layer_s_dtype(monkeypatch):
    need = RNNConfig(3, 4, bidirectional=True).parameter_count() * 4  # float32
    monkeypatch.setattr(config_module, "physical_memory", lambda: need)
    rr.RNN(3, 4, bidirectional=True, dtype=np.float32)  # exactly fits
    with pytest.raises(MemoryError, match=re.escape(f"would need {2 * need:,} bytes")):
        rr.RNN(3, 4, bidirectional=True)  # float64: twice as much


def test_physical_memory_is_the_operating_system_s_or_the_documented_fallback(monkeypatch):
    assert physical_memory() > 0
    monkeypatch.setattr(config_module.os, "sysconf", lambda _name: 0)
    assert physical_memory() == FALLBACK_MEMORY

    def missing(name):
        raise ValueError(name)

    monkeypatch.setattr(config_module.os, "sysconf", missing)
    assert physical_memory() == FALLBACK_MEMORY


@pytest.mark.parametrize(
    "options",
    [
        {"input_size": 3, "hidden_size": 4},
        {"input_size": 5, "hidden_size": 7, "num_layers": 3, "bidirectional": True, "bias": False},
        {"input_size": 2, "hidden_size": 9, "num_layers": 4},
    ],
)
def test_the_parameter_count_is_the_sum_of_the_shapes(options):
    config = RNNConfig(**options)
    assert config.parameter_count() == sum(np.prod(s) for s in config.param_shapes().values())


# -- parameters that share memory ------------------------------------------------------------------

SHARED = "share memory: each is updated in place, so one update would overwrite the other; "
SHARED += "give each parameter its own array (nothing was updated)"


@pytest.mark.parametrize("optimizer", [optim.SGD, optim.AdaGrad, optim.RMSprop, optim.Adam])
def test_the_same_array_twice_is_refused_and_nothing_changes(optimizer):
    W = np.ones((3, 3))
    with pytest.raises(ValueError, match=f"^{re.escape('params[0] and params[1] ' + SHARED)}$"):
        optimizer(lr=0.1).update([W, W], [np.ones((3, 3)), np.full((3, 3), 2.0)])
    np.testing.assert_array_equal(W, 1)


def test_overlapping_views_and_a_transpose_are_refused_by_key():
    W = np.ones((4, 3))
    with pytest.raises(ValueError, match=f"^{re.escape('params[0] and params[1] ' + SHARED)}$"):
        optim.SGD().update([W[:3], W[1:]], [np.ones((3, 3)), np.ones((3, 3))])
    with pytest.raises(ValueError, match=re.escape("params['b'] and params['c'] share memory")):
        optim.SGD().update(
            {"a": np.ones(2), "b": W, "c": W.T}, {"a": np.ones(2), "b": W, "c": W.T.copy()}
        )


def test_views_that_do_not_overlap_are_updated():
    W = np.zeros((4, 3))
    optim.SGD(lr=1.0).update([W[::2], W[1::2]], [np.ones((2, 3)), np.full((2, 3), 2.0)])
    np.testing.assert_array_equal(W, [[-1] * 3, [-2] * 3, [-1] * 3, [-2] * 3])


def test_a_layer_whose_parameters_share_memory_is_refused_by_name():
    class Tied:
        def __init__(self):
            W = np.ones((2, 2))
            self.params = {"encoder": W, "decoder": W}
            self.grads = {"encoder": np.ones((2, 2)), "decoder": np.ones((2, 2))}

    expected = "layer.params['encoder'] and layer.params['decoder'] " + SHARED
    with pytest.raises(ValueError, match=f"^{re.escape(expected)}$"):
        optim.Adam().update(Tied())


def test_an_overlap_too_costly_to_decide_counts_as_shared(monkeypatch):
    from reference_rnn.training import optim_arguments

    def too_hard(a, b, max_work=None):
        raise optim_arguments._TOO_HARD

    monkeypatch.setattr(optim_arguments.np, "shares_memory", too_hard)
    W = np.ones((3, 3))
    with pytest.raises(ValueError, match=re.escape("params[0] and params[1] share memory")):
        optim.SGD().update([W[::2], W[1::2]], [np.ones((2, 3)), np.ones((1, 3))])


# -- torch tensors as input ------------------------------------------------------------------------


def test_a_tensor_that_requires_grad_is_its_values(torch: ModuleType):
    rnn = rr.RNN(3, 4, seed=0)
    x = torch.randn(5, 2, 3, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(1, 2, 4, dtype=torch.float64, requires_grad=True)
    output, h_n = rnn(x, h0)
    expected_output, expected_h_n = rnn(x.detach().numpy(), h0.detach().numpy())
    np.testing.assert_array_equal(output, expected_output)
    np.testing.assert_array_equal(h_n, expected_h_n)
    grad_input, _ = rnn.backward(torch.ones(5, 2, 4, requires_grad=True))
    assert grad_input.dtype == np.float64
    assert x.grad is None  # nothing reached torch's autograd


def test_the_functional_core_takes_a_tensor_that_requires_grad(torch: ModuleType):
    x = torch.ones(2, 3, requires_grad=True)
    next_h, _ = rr.rnn_step_forward(x, np.zeros((2, 4)), np.ones((3, 4)), np.eye(4), np.ones(4))
    assert next_h.dtype == np.float64  # x's float32 with float64 weights: NumPy's promotion
    next_h32, _ = rr.rnn_step_forward(
        x, np.zeros((2, 4), np.float32), *(np.ones(s, np.float32) for s in [(3, 4), (4, 4), 4])
    )
    assert next_h32.dtype == np.float32


@pytest.mark.parametrize("dtype", ["bfloat16", "float8_e4m3fn"])
def test_a_float_numpy_lacks_is_widened_to_float32_exactly(torch: ModuleType, dtype: str):
    rnn = rr.RNN(3, 4, dtype=np.float32, seed=0)
    x = torch.randn(5, 2, 3).to(getattr(torch, dtype))
    output, _ = rnn(x)
    assert output.dtype == np.float32
    np.testing.assert_array_equal(output, rnn(x.float().numpy())[0])


def test_a_float16_tensor_is_what_a_float16_array_is(torch: ModuleType):
    x = torch.randn(5, 2, 3).half()
    rnn = rr.RNN(3, 4, seed=0)
    np.testing.assert_array_equal(rnn(x)[0], rnn(x.numpy())[0])


def test_a_parameter_is_a_tensor_too(torch: ModuleType):
    weight = torch.nn.Parameter(torch.ones(3, 4, dtype=torch.float64))
    next_h, _ = rr.rnn_step_forward(
        np.ones((2, 3)), np.zeros((2, 4)), weight, np.eye(4), np.ones(4)
    )
    np.testing.assert_array_equal(next_h, np.tanh(np.full((2, 4), 4.0)))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda torch: torch.empty(5, 2, 3, device="meta"),
            (
                "input must be array_like: a torch tensor of dtype float32 on meta whose values "
                "NumPy cannot take ("
            ),
        ),
        (
            lambda torch: torch.ones(5, 2, 3).to_sparse(),
            (
                "input must be array_like: a torch tensor of dtype float32 on cpu whose values "
                "NumPy cannot take ("
            ),
        ),
        (
            lambda torch: torch.ones(5, 2, 3, dtype=torch.complex64, requires_grad=True),
            "input must be a real floating or integer array, got dtype complex64",
        ),
    ],
)
def test_a_tensor_without_real_values_is_a_type_error_naming_the_argument(
    torch: ModuleType, make, message
):
    with pytest.raises(TypeError, match=f"^{re.escape(message)}"):
        rr.RNN(3, 4)(make(torch))


def test_the_tensor_s_own_argument_is_named(torch: ModuleType):
    rnn = rr.RNN(3, 4)
    with pytest.raises(TypeError, match=re.escape("hx must be array_like: a torch tensor")):
        rnn(np.ones((5, 2, 3)), torch.empty(1, 2, 4, device="meta"))
    with pytest.raises(TypeError, match=re.escape("Wh must be array_like: a torch tensor")):
        rr.rnn_forward(
            np.ones((2, 5, 3)),
            np.zeros((2, 4)),
            np.ones((3, 4)),
            torch.empty(4, 4, device="meta"),
            np.ones(4),
        )


def test_something_else_with_a_numpy_method_is_not_taken_for_a_tensor():
    class Lookalike:
        dtype = "float32"

        def detach(self):
            raise AssertionError("not a tensor")

        def numpy(self):
            raise AssertionError("not a tensor")

        def __array__(self, dtype=None, copy=None):
            return np.ones((5, 2, 3))

    output, _ = rr.RNN(3, 4, seed=0)(Lookalike())
    assert output.shape == (5, 2, 4)
