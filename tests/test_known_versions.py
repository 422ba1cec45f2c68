"""A known difference is known only on the releases it was measured on.

On any other release the row is a plain check: a fix upstream shows up as a pass, a new
difference as a failure. Versions are read from the installed distributions' metadata, so
nothing here needs the frameworks.
"""

from __future__ import annotations

import importlib.metadata
from types import SimpleNamespace

import numpy as np
import pytest

from reference_rnn.core.config import RNNConfig
from reference_rnn.oracles import keras, onnx_reference


def _version(installed: dict[str, str]):
    def version(distribution: str) -> str:
        if distribution not in installed:
            raise importlib.metadata.PackageNotFoundError(distribution)
        return installed[distribution]

    return version


@pytest.mark.parametrize(
    ("installed", "known"),
    [({"keras": "3.15.1"}, True), ({"keras": "3.16.0"}, False), ({}, False)],
)
def test_keras_float64_is_known_only_on_the_release_it_was_measured_on(
    monkeypatch, installed, known
):
    monkeypatch.setattr(importlib.metadata, "version", _version(installed))
    float64, float32 = SimpleNamespace(dtype="float64"), SimpleNamespace(dtype="float32")
    assert (keras.known_difference(float64) == keras.FLOAT64_DIFFERENCE) is known
    assert (keras.known_difference(float64) is None) is not known
    assert keras.known_difference(float32) is None


@pytest.mark.parametrize(
    ("installed", "known"),
    [({"onnx": "1.23.2"}, True), ({"onnx": "1.24.0"}, False), ({}, False)],
)
def test_onnx_sequence_lens_is_known_only_on_the_release_it_was_measured_on(
    monkeypatch, installed, known
):
    monkeypatch.setattr(importlib.metadata, "version", _version(installed))
    for cell, op in [("RNN", "op_rnn.py"), ("LSTM", "op_lstm.py")]:
        config = RNNConfig(3, 4, cell=cell)
        with_lengths = SimpleNamespace(lengths=np.array([2, 1]), config=config)
        difference = onnx_reference.known_difference(with_lengths)
        assert (difference is not None) is known
        assert difference is None or op in difference
        without = SimpleNamespace(lengths=None, config=config)
        assert onnx_reference.known_difference(without) is None
