"""The LSTM's and the GRU's exported cases: their expected values are an independent oracle's.

Every case of the gated kinds, read back from its file, is given to torch (the LSTM, and the GRU
with reset_after=True) or to exact arithmetic (the GRU with reset_after=False, which torch does not
compute), each built from the file's raw arrays by the oracle's own code: the functional kinds as a
one-layer batch-first network (``weight_ih = Wx.T``; the LSTM's one bias as ``bias_ih``, the GRU's
``b`` and ``bh`` as ``bias_ih`` and ``bias_hh``), the layer kinds as they are. A float32 case's
inputs go to exact arithmetic in float64, and its expected values are the float64 results rounded.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from reference_rnn.cli import main
from reference_rnn.core.config import RNNConfig
from reference_rnn.core.measure import scaled_error
from reference_rnn.export.gated import GATED_KINDS
from reference_rnn.oracles import Problem, exact
from reference_rnn.oracles import torch as torch_oracle

needs_mpmath = pytest.mark.skipif(
    __import__("importlib").util.find_spec("mpmath") is None, reason="mpmath is not installed"
)


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    folder = tmp_path_factory.mktemp("gated")
    assert main(["export", str(folder), "--only", "lstm*", "--only", "gru*"]) == 0
    index = json.loads((folder / "index.json").read_text(encoding="utf-8"))
    return folder, index["cases"]


def load(folder: Path, entry: dict) -> dict[str, np.ndarray]:
    with np.load(folder / entry["file"], allow_pickle=False) as data:
        return {name: data[name] for name in data.files}


def oracle_results(problem: Problem) -> dict[str, np.ndarray]:
    """torch's results where torch computes the problem, else exact arithmetic's in float64,
    rounded to the problem's dtype."""
    if torch_oracle.unsupported(problem) is None:
        return torch_oracle.run(problem)
    wide = {key: value for key, value in vars(problem).items() if isinstance(value, np.ndarray)}
    wide = {k: v.astype(np.float64) for k, v in wide.items() if v.dtype.kind == "f"}
    params = {name: value.astype(np.float64) for name, value in problem.params.items()}
    float64 = replace(problem, dtype="float64", params=params, **wide)
    assert exact.unsupported(float64) is None
    return {k: v.astype(problem.dtype) for k, v in exact.run(float64).items()}


def functional(entry: dict, a: dict[str, np.ndarray], x: np.ndarray, h0, c0, dh, dc) -> dict:
    """The functional kinds' arrays (h, c, dx, dh0, dc0, dWx, dWh, db, dbh) from one run of a
    one-layer batch-first network over ``x (N, T, D)`` with upstream ``dh (N, T, H)``."""
    lstm = entry["kind"].startswith("lstm")
    H = a["Wh"].shape[0]
    config = RNNConfig(
        a["Wx"].shape[0],
        H,
        cell="LSTM" if lstm else "GRU",
        batch_first=True,
        reset_after=entry.get("config", {}).get("reset_after", True),
    )
    bias_hh = np.zeros_like(a["b"]) if lstm else a["bh"]
    problem = Problem(
        config=config,
        dtype=entry["dtype"],
        params={
            "weight_ih_l0": a["Wx"].T,
            "weight_hh_l0": a["Wh"].T,
            "bias_ih_l0": a["b"],
            "bias_hh_l0": bias_hh,
        },
        x=x,
        hx=h0[None],
        lengths=None,
        grad_output=dh,
        grad_h_n=np.zeros_like(h0)[None],
        cx=None if c0 is None else c0[None],
        grad_c_n=None if dc is None else dc[None],
    )
    r = oracle_results(problem)
    values = {"h": r["output"], "dx": r["grad_input"], "dh0": r["grad_hx"][0]}
    values |= {"dWx": r["grad.weight_ih_l0"].T, "dWh": r["grad.weight_hh_l0"].T}
    values["db"] = r["grad.bias_ih_l0"]
    if lstm:
        values |= {"c": r["c_n"][0], "dc0": r["grad_cx"][0]}
    else:
        values["dbh"] = r["grad.bias_hh_l0"]
    return values


def expected(entry: dict, a: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The oracle's values for every expected array of a gated case, by its kind."""
    kind = entry["kind"]
    lstm = kind.startswith("lstm")
    c0, dc = a.get("c0"), a.get("dc")  # an LSTM's functional kinds' (None: a GRU's)
    if kind.endswith("-step"):  # one step is a sequence of one
        values = functional(entry, a, a["x"][:, None], a["h0"], c0, a["dh"][:, None], dc)
        return {k: v[:, 0] if k in ("h", "dx") else v for k, v in values.items()}
    if kind.endswith("-sequence"):
        return functional(entry, a, a["x"], a["h0"], c0, a["dh"], dc)
    if kind.endswith("-stateful"):
        zero_c = None if dc is None else np.zeros_like(dc)
        first = functional(entry, a, a["x1"], a["h0"], c0, np.zeros_like(a["h1"]), zero_c)
        c1 = first.get("c")
        second = functional(entry, a, a["x2"], first["h"][:, -1], c1, a["dh"], dc)
        return second | {"h1": first["h"]} | ({"c1": c1} if lstm else {})
    config = RNNConfig(**{k: v for k, v in entry["config"].items() if k != "unbatched"})
    r = oracle_results(
        Problem(
            config=config,
            dtype=entry["dtype"],
            params={name: a[name] for name in config.param_shapes()},
            x=a["input"],
            hx=a["h_0"],
            lengths=a.get("lengths"),
            grad_output=a["grad_output"],
            grad_h_n=a["grad_h_n"],
            cx=a.get("c_0"),
            grad_c_n=a.get("grad_c_n"),
        )
    )
    renamed = {"grad_hx": "grad_h_0", "grad_cx": "grad_c_0"}
    return {renamed.get(k, k.replace("grad.", "grad_")): v for k, v in r.items()}


def test_every_gated_kind_is_exported_in_both_dtypes_and_both_gru_conventions(export):
    _, cases = export
    for dtype in ("float64", "float32"):
        kinds = {entry["kind"] for entry in cases if entry["dtype"] == dtype}
        assert kinds == set(GATED_KINDS)
        conventions = {
            (entry["kind"], entry["config"]["reset_after"])
            for entry in cases
            if entry["kind"].startswith("gru") and entry["dtype"] == dtype
        }
        assert len(conventions) == 2 * 4
    layer = {entry["name"] for entry in cases if entry["kind"] == "lstm"}
    assert {"lstm-l1-proj-unbatched", "lstm-l2-bidirectional-proj-lengths", "lstm-l3"} <= layer


@needs_mpmath
def test_the_gated_cases_expected_values_are_an_independent_oracles(torch: ModuleType, export):
    folder, cases = export
    for entry in cases:
        arrays = load(folder, entry)
        theirs = expected(entry, arrays)
        assert set(theirs) == set(entry["expected"]), entry["name"]
        for key in entry["expected"]:
            error = scaled_error(arrays[key], theirs[key])
            assert error <= entry["tolerance"], (entry["name"], key, error)


def test_the_gated_kinds_state_their_gates_and_equations(export):
    folder, _ = export
    index = json.loads((folder / "index.json").read_text(encoding="utf-8"))
    assert "i, f, g, o" in index["kinds"]["lstm-sequence"]["equations"]
    assert "c_t = f * c_{t-1} + i * g" in index["kinds"]["lstm"]["equations"]
    assert "r * (h_{t-1} @ Wh_n + bh_n)" in index["kinds"]["gru-step"]["equations"]
    assert "(r * h_{t-1}) @ Wh_n" in index["kinds"]["gru"]["equations"]
    readme = (folder / "README.md").read_text(encoding="utf-8")
    assert "LSTM, gates **i, f, g, o**" in readme
    assert "GRU, gates **r, z, n**" in readme
