"""``python -m reference_rnn export DIR`` and ``testing.cases``: the expected values are right.

Right means: torch (built from the raw arrays by the torch oracle, not by this package) gives the
same states and gradients for the exported inputs and upstream gradient.
"""

from __future__ import annotations

import json
from types import ModuleType

import numpy as np
import pytest

from reference_rnn import testing
from reference_rnn.checker.battery import KEYS
from reference_rnn.cli import main
from reference_rnn.core.config import RNNConfig
from reference_rnn.core.measure import TOLERANCE, scaled_error
from reference_rnn.oracles import Problem


def torch_results(arrays) -> dict[str, np.ndarray]:
    """torch.nn.RNN's h, dx, dh0, dWx, dWh, db for x, h0, Wx, Wh, b and dh (batch-first)."""
    from reference_rnn.oracles import torch as torch_oracle

    x, h0, Wx, Wh, b, dh = (np.asarray(arrays[name]) for name in ("x", "h0", "Wx", "Wh", "b", "dh"))
    H = Wx.shape[1]
    results = torch_oracle.run(
        Problem(
            config=RNNConfig(Wx.shape[0], H, batch_first=True),
            dtype=str(x.dtype),
            params={
                "weight_ih_l0": Wx.T,
                "weight_hh_l0": Wh.T,
                "bias_ih_l0": b,
                "bias_hh_l0": np.zeros_like(b),
            },
            x=x,
            hx=h0[None],
            lengths=None,
            grad_output=dh,
            grad_h_n=np.zeros_like(h0)[None],
        )
    )
    return {
        "h": results["output"],
        "dx": results["grad_input"],
        "dh0": results["grad_hx"][0],
        "dWx": results["grad.weight_ih_l0"].T,
        "dWh": results["grad.weight_hh_l0"].T,
        "db": results["grad.bias_ih_l0"],
    }


def test_export_writes_a_file_per_case_and_dtype_and_an_index(tmp_path, capsys):
    assert main(["export", str(tmp_path / "cases")]) == 0
    index = json.loads((tmp_path / "cases" / "index.json").read_text(encoding="utf-8"))
    assert capsys.readouterr().out == (
        f"wrote 20 cases (float64, float32) and {tmp_path / 'cases' / 'index.json'}\n"
    )
    assert len(index["cases"]) == 20
    assert sorted(index["arrays"]) == sorted(["x", "h0", "Wx", "Wh", "b", "dh", *KEYS])
    files = sorted(p.name for p in (tmp_path / "cases").glob("*.npz"))
    assert files == sorted(entry["file"] for entry in index["cases"])
    for entry in index["cases"]:
        assert entry["tolerance"] == TOLERANCE[entry["dtype"]]
        with np.load(tmp_path / "cases" / entry["file"], allow_pickle=False) as data:
            assert sorted(data.files) == sorted(entry["shapes"])
            for name, shape in entry["shapes"].items():
                assert data[name].shape == tuple(shape)
                assert data[name].dtype == np.dtype(entry["dtype"]).newbyteorder("<")
                assert data[name].flags.c_contiguous
            N, T, D, H = (entry[k] for k in "NTDH")
            assert data["x"].shape == (N, T, D)
            assert data["dWh"].shape == (H, H)


def test_export_of_one_dtype(tmp_path):
    assert main(["export", str(tmp_path), "--dtype", "float32"]) == 0
    index = json.loads((tmp_path / "index.json").read_text(encoding="utf-8"))
    assert {entry["dtype"] for entry in index["cases"]} == {"float32"}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_exported_expected_values_are_torchs(torch: ModuleType, tmp_path, dtype):
    main(["export", str(tmp_path), "--dtype", dtype])
    index = json.loads((tmp_path / "index.json").read_text(encoding="utf-8"))
    for entry in index["cases"]:
        with np.load(tmp_path / entry["file"], allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
        expected = torch_results(arrays)
        for key in KEYS:
            # both sides are in the case's dtype: torch computed it so, the file rounded to it
            assert scaled_error(arrays[key], expected[key]) <= entry["tolerance"], (
                entry["name"],
                key,
            )


def test_the_cases_expected_values_are_torchs_in_float64(torch: ModuleType):
    cases = list(testing.cases(stateful=False))
    assert [case.name for case in cases][:3] == ["sample", "sample-h0", "one-step"]
    for case in cases:
        arrays = {
            "x": case.x,
            "h0": case.h0,
            "Wx": case.Wx,
            "Wh": case.Wh,
            "b": case.b,
            "dh": case.dh,
        }
        expected = torch_results(arrays)
        for key in KEYS:
            testing.assert_close(case.expected[key], expected[key], dtype="float64")


def test_the_sample_case_is_the_exercise_documented_one():
    sample = next(testing.cases())
    printed = np.array([0.79494228, 0.81839002, 0.83939649, 0.85584174])  # the exercise's line
    assert np.abs(sample.expected["h"][0, -1] - printed).max() < 5e-9
    assert str(sample) == "sample"
