"""``python -m reference_rnn export DIR`` and ``testing.cases``: what is exported, and that it is right.

Right means: torch (built from the raw arrays by the torch oracle, not by this package) gives the
same states and gradients for the exported inputs and upstream gradients, in every kind, and a
float32 case holds the float64 reference of its own float32 inputs, rounded once.
The robustness of the writing is tests/test_export_writing.py; the C example tests/test_export_c.py.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from reference_rnn import testing
from reference_rnn.checker.battery import KEYS
from reference_rnn.cli import main
from reference_rnn.core.config import RNNConfig
from reference_rnn.core.functional import rnn_backward, rnn_forward
from reference_rnn.core.measure import TOLERANCE, scaled_error
from reference_rnn.export.gated import LAYER_CASES
from reference_rnn.export.npz import npy_bytes, npz_bytes
from reference_rnn.export.portable import RNN_CASES, portable_cases
from reference_rnn.oracles import Problem

#: Cases per dtype of a whole export: 4 step and 10 sequence cases in tanh and relu each, 2
#: stateful, and the RNN configurations; then the gated cells' (tests/test_export_gated.py): the
#: LSTM's three functional cases and its layer configurations, the GRU's in both conventions.
PER_DTYPE = {"step": 8, "sequence": 20, "stateful": 2, "rnn": len(RNN_CASES)}
PER_DTYPE |= {"lstm-step": 1, "lstm-sequence": 1, "lstm-stateful": 1}
PER_DTYPE |= {"lstm": len(LAYER_CASES["lstm"])}
PER_DTYPE |= {"gru-step": 2, "gru-sequence": 2, "gru-stateful": 2}
PER_DTYPE |= {"gru": 2 * len(LAYER_CASES["gru"])}
#: The Elman cell's kinds, which torch_expected reads
ELMAN_KINDS = ("step", "sequence", "stateful", "rnn")


def load(directory: Path, entry: dict) -> dict[str, np.ndarray]:
    with np.load(directory / entry["file"], allow_pickle=False) as data:
        return {name: data[name] for name in data.files}


def torch_results(problem: Problem) -> dict[str, np.ndarray]:
    from reference_rnn.oracles import torch as torch_oracle

    return torch_oracle.run(problem)


def torch_core(x, h0, Wx, Wh, b, dh, nonlinearity) -> dict[str, np.ndarray]:
    """torch.nn.RNN's h, dx, dh0, dWx, dWh, db for the functional core's arrays (batch-first)."""
    results = torch_results(
        Problem(
            config=RNNConfig(Wx.shape[0], Wx.shape[1], nonlinearity=nonlinearity, batch_first=True),
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


def torch_expected(entry: dict, a: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """torch's values for every expected array of an exported case, by the case's kind."""
    nonlinearity = entry["nonlinearity"]
    if entry["kind"] == "step":  # one step is a sequence of one
        theirs = torch_core(
            a["x"][:, None], a["h0"], a["Wx"], a["Wh"], a["b"], a["dh"][:, None], nonlinearity
        )
        return {key: value[:, 0] if key in ("h", "dx") else value for key, value in theirs.items()}
    if entry["kind"] == "sequence":
        return torch_core(a["x"], a["h0"], a["Wx"], a["Wh"], a["b"], a["dh"], nonlinearity)
    if entry["kind"] == "stateful":
        weights = (a["Wx"], a["Wh"], a["b"])
        first = torch_core(a["x1"], a["h0"], *weights, np.zeros_like(a["h1"]), nonlinearity)
        second = torch_core(a["x2"], first["h"][:, -1], *weights, a["dh"], nonlinearity)
        return second | {"h1": first["h"]}
    config = RNNConfig(**{k: v for k, v in entry["config"].items() if k != "unbatched"})
    results = torch_results(
        Problem(
            config=config,
            dtype=entry["dtype"],
            params={name: a[name] for name in config.param_shapes()},
            x=a["input"],
            hx=a["h_0"],
            lengths=a.get("lengths"),
            grad_output=a["grad_output"],
            grad_h_n=a["grad_h_n"],
        )
    )
    renamed = {"grad_hx": "grad_h_0"}
    return {renamed.get(k, k.replace("grad.", "grad_")): v for k, v in results.items()}


def test_export_writes_every_kind_in_both_dtypes_with_an_index(tmp_path, capsys):
    folder = tmp_path / "cases"
    assert main(["export", str(folder)]) == 0
    assert capsys.readouterr().out == (
        f"wrote 132 case files (float64, float32), index.json, index.txt and README.md to {folder}\n"
    )
    index = json.loads((folder / "index.json").read_text(encoding="utf-8"))
    assert index["format_version"] == 2
    assert index["version"] == "0.1.0"
    assert index["seed"] == 0
    assert index["dtypes"] == ["float64", "float32"]
    assert sorted(index["kinds"]) == sorted(PER_DTYPE)
    for rule in ("loss", "error", "tolerance", "float32", "storage"):
        assert index[rule]
    for dtype in ("float64", "float32"):
        kinds = [entry["kind"] for entry in index["cases"] if entry["dtype"] == dtype]
        assert {kind: kinds.count(kind) for kind in PER_DTYPE} == PER_DTYPE
    files = sorted(p.name for p in folder.iterdir())
    assert files == sorted(
        [*(entry["file"] for entry in index["cases"]), "index.json", "index.txt", "README.md"]
    )


def test_each_case_file_is_what_its_index_entry_says(tmp_path):
    main(["export", str(tmp_path)])
    index = json.loads((tmp_path / "index.json").read_text(encoding="utf-8"))
    lines = (tmp_path / "index.txt").read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("# ")
    assert len(lines) == 1 + len(index["cases"])
    for entry, line in zip(index["cases"], lines[1:], strict=True):
        data = (tmp_path / entry["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert len(data) == entry["bytes"]
        assert entry["tolerance"] == TOLERANCE[entry["dtype"]]
        assert line.split() == [
            entry["file"],
            entry["kind"],
            entry["nonlinearity"],
            entry["dtype"],
            f"{entry['tolerance']:g}",
        ]
        arrays = load(tmp_path, entry)
        declared = entry["inputs"] | entry["expected"]
        assert list(arrays) == list(declared)  # inputs first, in the documented order
        for name, spec in declared.items():
            assert arrays[name].shape == tuple(spec["shape"])
            assert arrays[name].dtype.str == spec["dtype"]
            assert spec["layout"].startswith("(")
            expected_dtype = "int64" if name == "lengths" else entry["dtype"]
            assert arrays[name].dtype == np.dtype(expected_dtype)


def test_the_storage_is_plain_npy_files_stored_uncompressed_and_undated(tmp_path):
    main(["export", str(tmp_path), "--only", "rnn-l1", "--dtype", "float64"])
    with zipfile.ZipFile(tmp_path / "rnn-l1.float64.npz") as archive:
        members = archive.infolist()
        assert [m.filename for m in members][:2] == ["input.npy", "h_0.npy"]
        for member in members:
            assert member.compress_type == zipfile.ZIP_STORED
            assert member.date_time == (1980, 1, 1, 0, 0, 0)
            assert not member.flag_bits & 0x08  # sizes in the local header
            npy = archive.read(member)
            assert npy[:8] == b"\x93NUMPY\x01\x00"
            length = int.from_bytes(npy[8:10], "little")
            assert (10 + length) % 64 == 0
            header = npy[10 : 10 + length].decode("latin1")
            assert header.endswith(" \n")
            assert header.startswith("{'descr': '<f8', 'fortran_order': False, 'shape': (")


def test_the_exported_configurations_state_their_layout(tmp_path):
    main(["export", str(tmp_path), "--dtype", "float64", "--only", "rnn-*"])
    index = json.loads((tmp_path / "index.json").read_text(encoding="utf-8"))
    entries = {entry["name"]: entry for entry in index["cases"]}
    assert list(entries) == [name for name, *_ in RNN_CASES]
    assert entries["rnn-l1"]["inputs"]["input"]["layout"] == "(T, N, D)"
    assert entries["rnn-l1-batch-first"]["inputs"]["input"]["layout"] == "(N, T, D)"
    assert entries["rnn-l1-unbatched"]["inputs"]["input"]["layout"] == "(T, D)"
    assert entries["rnn-l1-unbatched"]["config"]["unbatched"] is True
    bidirectional = entries["rnn-l2-bidirectional-batch-first-lengths"]
    assert bidirectional["expected"]["output"]["shape"] == [3, 5, 8]
    assert bidirectional["expected"]["h_n"] == {
        "shape": [4, 3, 4],
        "dtype": "<f8",
        "layout": "(L * K, N, H)",
    }
    assert bidirectional["inputs"]["weight_ih_l1_reverse"]["layout"] == "(H, K * H)"
    assert bidirectional["inputs"]["lengths"]["dtype"] == "<i8"
    assert "bias_ih_l0" not in entries["rnn-l1-no-bias"]["inputs"]
    assert "lengths" not in entries["rnn-l1"]["inputs"]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_exported_expected_values_are_torchs(torch: ModuleType, tmp_path, dtype):
    main(["export", str(tmp_path), "--dtype", dtype])
    index = json.loads((tmp_path / "index.json").read_text(encoding="utf-8"))
    for entry in [entry for entry in index["cases"] if entry["kind"] in ELMAN_KINDS]:
        arrays = load(tmp_path, entry)
        theirs = torch_expected(entry, arrays)
        for key in entry["expected"]:
            # both sides in the case's dtype: torch computed it so, the file rounded to it
            error = scaled_error(arrays[key], theirs[key])
            assert error <= entry["tolerance"], (entry["name"], key, error)


def test_a_float32_case_is_the_float64_reference_of_its_own_inputs_rounded_once(tmp_path):
    main(["export", str(tmp_path), "--dtype", "float32", "--only", "sequence-relu-long"])
    (entry,) = json.loads((tmp_path / "index.json").read_text(encoding="utf-8"))["cases"]
    a = load(tmp_path, entry)
    wide = {name: a[name].astype(np.float64) for name in ("x", "h0", "Wx", "Wh", "b", "dh")}
    h, cache = rnn_forward(*(wide[n] for n in ("x", "h0", "Wx", "Wh", "b")), nonlinearity="relu")
    expected = dict(zip(KEYS, (h, *rnn_backward(wide["dh"], cache)), strict=True))
    for key in KEYS:
        np.testing.assert_array_equal(a[key], expected[key].astype(np.float32), err_msg=key)


def test_re_exporting_is_byte_identical_and_the_seed_changes_the_cases(tmp_path):
    for name, seed in (("a", "0"), ("b", "0"), ("c", "7")):
        assert main(["export", str(tmp_path / name), "--seed", seed]) == 0
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir())
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert json.loads((tmp_path / "c" / "index.json").read_text(encoding="utf-8"))["seed"] == 7
    for name in ("sequence-tanh-batch.float64.npz", "rnn-l2.float32.npz"):
        assert (tmp_path / "c" / name).read_bytes() != (tmp_path / "a" / name).read_bytes()


def test_the_bytes_depend_on_nothing_but_the_values(tmp_path):
    """Pinned, so that every NumPy session of the matrix checks them: the encoding (written by
    hand, no NumPy formatting, no clock) and every input of every case (NumPy's Generator streams
    are stable). The float64 expected values are the reference's own arithmetic, whose last bits
    may move with NumPy's BLAS and ufuncs (docs/checking.md), so they are not pinned."""
    assert npy_bytes(np.arange(3, dtype=np.float32)) == (
        b"\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }"
        + b" " * 60
        + b"\n\x00\x00\x00\x00\x00\x00\x80?\x00\x00\x00@"
    )
    two = {"a": np.arange(6.0).reshape(2, 3), "n": np.array([3, 1], dtype=np.int64)}
    assert hashlib.sha256(npz_bytes(two)).hexdigest() == (
        "075392ca36eaf6821ed2aea2bf4ab6b318afc521ada7fb98d6e885e3f82bc17b"
    )
    inputs = hashlib.sha256()
    for dtype in ("float64", "float32"):
        for case in portable_cases(dtype, seed=0):
            inputs.update(npz_bytes(case.inputs))
    assert inputs.hexdigest() == "82f4fe4be0a190800ccd022dd2a9830997cce05b19ba2c99ed937e8859f1c985"


def test_only_selects_cases_by_pattern_and_an_empty_selection_is_refused(tmp_path, capsys):
    assert main(["export", str(tmp_path), "--only", "step-relu-*", "--only", "stateful-*"]) == 0
    index = json.loads((tmp_path / "index.json").read_text(encoding="utf-8"))
    names = [entry["name"] for entry in index["cases"]]
    assert (
        names
        == [
            *(f"step-relu-{n}" for n in ("sample", "one-step", "one-step-batch", "batch-h0")),
            "stateful-tanh",
            "stateful-relu",
        ]
        * 2
    )
    capsys.readouterr()
    assert main(["export", str(tmp_path / "none"), "--only", "transformer-*"]) == 2
    assert capsys.readouterr().err == "reference-rnn export: no case matches --only transformer-*\n"
    assert not (tmp_path / "none").exists()


def test_a_bad_seed_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit:
        main(["export", str(tmp_path), "--seed", "-1"])
    assert exit.value.code == 2
    assert "--seed must be a non-negative integer, got '-1'" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_the_folder_readme_works_one_case_through_with_the_files_numbers(tmp_path):
    main(["export", str(tmp_path), "--only", "step-tanh-sample", "--dtype", "float64"])
    text = (tmp_path / "README.md").read_text(encoding="utf-8")
    (entry,) = json.loads((tmp_path / "index.json").read_text(encoding="utf-8"))["cases"]
    a = load(tmp_path, entry)
    assert "## A worked case: `step-tanh-sample.float64.npz`" in text
    assert "reference_rnn 0.1.0, seed 0, format version\n2): 1 case files (1 step)" in text
    assert f"            = {float(a['h'][0, 0])!r}\n" in text
    assert "- `db` (4,): " + ", ".join(repr(float(v)) for v in a["db"]) + "\n" in text
    assert np.tanh(0.01 * 0.01 + 0.02 * 0.03 + 1.0) == pytest.approx(a["h"][0, 0], abs=1e-15)


def test_the_cases_expected_values_are_torchs_in_float64(torch: ModuleType):
    cases = list(testing.cases(stateful=False))
    assert [case.name for case in cases][:3] == ["sample", "sample-h0", "one-step"]
    for case in cases:
        expected = torch_core(case.x, case.h0, case.Wx, case.Wh, case.b, case.dh, "tanh")
        for key in KEYS:
            testing.assert_close(case.expected[key], expected[key], dtype="float64")


def test_the_sample_case_is_the_exercise_documented_one():
    sample = testing.cases()[0]
    printed = np.array([0.79494228, 0.81839002, 0.83939649, 0.85584174])  # the exercise's line
    assert np.abs(sample.expected["h"][0, -1] - printed).max() < 5e-9
    assert str(sample) == "sample"
