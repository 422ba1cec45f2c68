"""torch is optional: the package imports and computes without it."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import reference_rnn as rr
from reference_rnn.oracles.torch import import_torch


def test_importing_the_package_does_not_import_torch():
    code = "import sys, reference_rnn, reference_rnn.verify; print('torch' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_the_core_imports_no_oracle_adapter_or_test_harness():
    code = "import sys, reference_rnn; reference_rnn.RNN; print(' '.join(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    imported = result.stdout.split()
    assert "reference_rnn.core.functional" in imported
    harness = ("oracles", "adapters", "cases", "golden", "verify", "testing", "checker")
    assert [m for m in imported if m.split(".")[:2][-1] in harness] == []
    assert [m for m in imported if m.split(".")[0] in ("torch", "jax", "keras", "onnx")] == []


def test_without_torch_the_torch_parts_say_how_to_get_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    advice = r'needs torch: pip install "reference-rnn\[oracle-torch\]"'
    with pytest.raises(ImportError, match=rf"^the torch oracle {advice}"):
        import_torch()
    rnn = rr.RNN(3, 4)
    with pytest.raises(ImportError, match=rf"^RNN\.to_torch {advice}"):
        rnn.to_torch()
    output, _ = rnn(np.ones((2, 1, 3)))  # the reference itself needs no torch
    assert output.shape == (2, 1, 4)


def test_without_onnx_to_onnx_says_how_to_get_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now raises ImportError
    advice = r'needs onnx: pip install "reference-rnn\[oracle-onnx\]"'
    with pytest.raises(ImportError, match=rf"^RNN\.to_onnx {advice}"):
        rr.RNN(3, 4).to_onnx()
