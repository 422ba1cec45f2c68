"""``RNNConfig``: torch.nn.RNN's options, spelled out once, and who holds one.

Its checks are the RNN constructor's (their messages: tests/test_errors.py); here, what it says of
the network: torch's parameter names and shapes, the short form stored in the golden fixtures.
"""

from __future__ import annotations

from dataclasses import FrozenInstanceError, asdict, fields

import numpy as np
import pytest

import reference_rnn as rr
from reference_rnn.core.config import RNNConfig
from reference_rnn.verify.cases import RNNCase


def test_the_defaults_are_torchs_and_the_order_its_constructors():
    config = RNNConfig(3, 4)
    assert asdict(config) == {
        "input_size": 3,
        "hidden_size": 4,
        "num_layers": 1,
        "nonlinearity": "tanh",
        "bias": True,
        "batch_first": False,
        "dropout": 0.0,
        "bidirectional": False,
        "proj_size": 0,
        "reset_after": True,
        "cell": "RNN",
    }
    assert config.num_directions == 1
    with pytest.raises(FrozenInstanceError):
        config.hidden_size = 5  # type: ignore[misc]


def test_values_are_checked_and_made_pythons():
    config = RNNConfig(np.int64(3), np.int32(4), np.uint8(2), bias=np.bool_(False), dropout=1)
    assert [type(getattr(config, f.name)) for f in fields(config)] == [
        int,
        int,
        int,
        str,
        bool,
        bool,
        float,
        bool,
        int,
        bool,
        str,
    ]
    with pytest.raises(ValueError, match="hidden_size must be greater than zero"):
        RNNConfig(3, 0)


@pytest.mark.parametrize("cell", ["RNN", "LSTM", "GRU"])
def test_parameter_names_and_shapes_are_torchs(torch, cell):
    projections = [{"proj_size": 2, "num_layers": 2, "bidirectional": True}] * (cell == "LSTM")
    for options in (
        {},
        {"num_layers": 3, "bidirectional": True},
        {"num_layers": 2, "bias": False},
        *projections,
    ):
        config = RNNConfig(3, 4, **options, cell=cell)
        module = getattr(torch.nn, cell)(**config.torch_options())
        expected = {name: tuple(p.shape) for name, p in module.named_parameters()}
        assert list(config.param_shapes().items()) == list(expected.items())
        count = sum(p.numel() for p in module.parameters())
        assert config.parameter_count() == count


def test_names_and_input_widths_per_layer_and_direction():
    config = RNNConfig(3, 4, num_layers=2, bidirectional=True)
    assert config.param_names(1, 1) == (
        "weight_ih_l1_reverse",
        "weight_hh_l1_reverse",
        "bias_ih_l1_reverse",
        "bias_hh_l1_reverse",
    )
    assert [config.layer_input_size(layer) for layer in range(2)] == [3, 8]


@pytest.mark.parametrize(
    ("options", "short"),
    [
        ({}, {"input_size": 3, "hidden_size": 4}),
        (
            {"bidirectional": True, "nonlinearity": "relu", "dropout": 0.5, "num_layers": 2},
            {
                "input_size": 3,
                "hidden_size": 4,
                "num_layers": 2,
                "nonlinearity": "relu",
                "dropout": 0.5,
                "bidirectional": True,
            },
        ),
    ],
)
def test_options_are_what_differs_from_the_defaults_in_torchs_order(options, short):
    config = RNNConfig(3, 4, **options)
    assert config.options() == short
    assert list(config.options()) == list(short)
    assert RNNConfig(**config.options()) == config


def test_describe_names_what_differs():
    assert RNNConfig(3, 4).describe() == "L=1, tanh"
    config = RNNConfig(3, 4, 2, "relu", False, True, 0.25, True)
    assert config.describe() == "L=2, relu, batch_first, bidirectional, no bias, dropout=0.25"


def test_the_layer_holds_a_config_and_shows_torchs_attributes_read_only():
    rnn = rr.RNN(3, 4, num_layers=2, bidirectional=True, dropout=0.5)
    assert rnn.config == RNNConfig(3, 4, num_layers=2, bidirectional=True, dropout=0.5)
    # its constructor's options, torch's
    for name, value in rnn.config.layer_options().items():
        assert getattr(rnn, name) == value, name
    assert rnn.num_directions == 2
    with pytest.raises(AttributeError):
        rnn.hidden_size = 5  # type: ignore[misc]


def test_a_case_takes_a_config_or_its_keyword_arguments():
    config = RNNConfig(3, 4, num_layers=2)
    by_mapping = RNNCase("case", {"input_size": 3, "hidden_size": 4, "num_layers": 2})
    assert by_mapping.config == RNNCase("case", config).config == config
    assert by_mapping.problem().config == config
