"""The golden fixtures: torch's results on disk, so that the reference is checked without torch.

``golden/*.npz`` (in :func:`~reference_rnn.core.sample.fixtures_dir`) each hold one
:class:`~reference_rnn.verify.cases.RNNCase`: its configuration, parameters, inputs and upstream
gradients, torch's outputs and gradients, and the torch and NumPy versions that recorded them.
The Elman cell's, the LSTM's and the GRU's (``lstm_*``, ``gru_*``); torch computes no GRU with
``reset_after=False``, so those (``gru_reset_before_*``) hold exact arithmetic's results, rounded
to float64, and say so in their ``oracle`` entry (absent: torch).
Recording also adds torch's state sequence to the documented sample
(:mod:`reference_rnn.core.sample`). Regenerate them with ``nox -s fixtures``
(``python -m reference_rnn.verify.golden``, which needs torch).

A fixture that cannot be read (corrupt, truncated, or tampered so that its parts no longer fit
together) is a ValueError that names the file and says why: in the report, that fixture's row
fails with the reason and the other rows still run. A fixture whose numbers were changed fails
its comparison.
"""

from __future__ import annotations

import json
import sys
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

from reference_rnn.core.config import RNNConfig
from reference_rnn.core.measure import scaled_error
from reference_rnn.core.sample import documented_sample, fixtures_dir
from reference_rnn.core.validation import FloatArray
from reference_rnn.oracles import Problem
from reference_rnn.oracles import exact as exact_oracle
from reference_rnn.oracles import torch as torch_oracle
from reference_rnn.verify.cases import RNNCase, run_rnn

__all__ = [
    "GOLDEN_CASES",
    "check_golden",
    "golden_paths",
    "load_case",
    "record",
]

#: the arrays of a Problem (the last two an LSTM's)
_INPUTS = ("x", "hx", "lengths", "grad_output", "grad_h_n", "cx", "grad_c_n")

#: Evaluation mode only: a recorded dropout mask would tie the fixture to NumPy's random stream.
GOLDEN_CASES = [
    RNNCase("l1_tanh", {"input_size": 4, "hidden_size": 5}),
    RNNCase(
        "l1_relu_batch_first",
        {"input_size": 4, "hidden_size": 5, "nonlinearity": "relu", "batch_first": True},
        hx=False,
    ),
    RNNCase(
        "l2_bidirectional",
        {"input_size": 3, "hidden_size": 4, "num_layers": 2, "bidirectional": True},
    ),
    RNNCase(
        "l3_bidirectional_relu_lengths",
        {
            "input_size": 3,
            "hidden_size": 4,
            "num_layers": 3,
            "nonlinearity": "relu",
            "batch_first": True,
            "bidirectional": True,
        },
        N=4,
        T=6,
        lengths=(6, 2, 1, 4),
    ),
    RNNCase(
        "l2_no_bias_lengths",
        {"input_size": 5, "hidden_size": 3, "num_layers": 2, "bias": False},
        lengths=(3, 5, 1),
    ),
    RNNCase(
        "l2_bidirectional_unbatched",
        {"input_size": 3, "hidden_size": 4, "num_layers": 2, "bidirectional": True},
        unbatched=True,
    ),
    RNNCase(
        "l2_bidirectional_dropout_eval",
        {"input_size": 3, "hidden_size": 4, "num_layers": 2, "dropout": 0.5, "bidirectional": True},
    ),
    RNNCase(
        "l1_bidirectional_lengths_float32",
        {"input_size": 4, "hidden_size": 5, "bidirectional": True},
        dtype="float32",
        lengths=(2, 5, 3),
    ),
    RNNCase(
        "l2_batch_first_float32",
        {"input_size": 4, "hidden_size": 5, "num_layers": 2, "batch_first": True},
        dtype="float32",
    ),
    RNNCase("l1_large_hidden", {"input_size": 16, "hidden_size": 64}, N=8, T=20, seed=7),
    RNNCase(
        "lstm_l2_bidirectional_lengths",
        {"input_size": 3, "hidden_size": 4, "num_layers": 2, "bidirectional": True, "cell": "LSTM"},
        lengths=(5, 2, 4),
        seed=1,
    ),
    RNNCase(
        "lstm_l3_proj_batch_first_float32",
        {"input_size": 4, "hidden_size": 5, "num_layers": 3, "proj_size": 3, "cell": "LSTM"}
        | {"batch_first": True},
        dtype="float32",
        seed=2,
    ),
    RNNCase(
        "lstm_unbatched_no_bias",
        {"input_size": 3, "hidden_size": 4, "bias": False, "cell": "LSTM"},
        unbatched=True,
        hx=False,
        seed=3,
    ),
    RNNCase(
        "gru_l2_bidirectional_lengths",
        {"input_size": 3, "hidden_size": 4, "num_layers": 2, "bidirectional": True, "cell": "GRU"},
        lengths=(5, 2, 4),
        seed=4,
    ),
    RNNCase(
        "gru_l1_batch_first_float32",
        {"input_size": 4, "hidden_size": 5, "batch_first": True, "cell": "GRU"},
        dtype="float32",
        seed=5,
    ),
    RNNCase(
        "gru_reset_before_l2_lengths",
        {"input_size": 3, "hidden_size": 3, "num_layers": 2, "cell": "GRU", "reset_after": False},
        lengths=(4, 1, 3),
        T=4,
        seed=6,
    ),
    RNNCase(
        "gru_reset_before_bidirectional_no_bias",
        {"input_size": 2, "hidden_size": 3, "bidirectional": True, "cell": "GRU"}
        | {"reset_after": False, "bias": False},
        T=4,
        seed=7,
    ),
]


def golden_paths(directory: Path | None = None) -> list[Path]:
    """Every golden fixture file, sorted by name."""
    return sorted(((directory or fixtures_dir()) / "golden").glob("*.npz"))


@contextmanager
def _readable(path: Path) -> Iterator[None]:
    """Whatever reading ``path`` raises, as one ValueError that names the file and says why."""
    try:
        yield
    except (
        OSError,
        EOFError,
        KeyError,
        TypeError,
        ValueError,
        zipfile.BadZipFile,
        zlib.error,
    ) as exc:
        msg = (
            f"{path.name} is not a readable golden fixture (corrupt, truncated or tampered): "
            f"{type(exc).__name__}: {exc}"
        )
        raise ValueError(msg) from None


def load_case(path: Path) -> RNNCase:
    """The case a golden fixture was recorded for (its ``config``, the JSON of :func:`_config`)."""
    with _readable(path), path.open("rb") as file, np.load(file, allow_pickle=False) as data:
        config = json.loads(str(data["config"]))
        return RNNCase(**config | {"lengths": config["lengths"] and tuple(config["lengths"])})


def check_golden(path: Path) -> tuple[RNNCase, float, str]:
    """Run reference_rnn on a golden fixture: its case, the worst scaled error and where it was."""
    case = load_case(path)
    with _readable(path):
        with path.open("rb") as file, np.load(file, allow_pickle=False) as data:
            params = _prefixed(data, "param.")
            inputs = _prefixed(data, "input.")
            expected = _prefixed(data, "expected.")
        problem = replace(
            case.problem(),
            params=params,
            x=inputs["x"],
            hx=inputs.get("hx"),
            lengths=None if "lengths" not in inputs else inputs["lengths"].astype(np.int64),
            grad_output=inputs["grad_output"],
            grad_h_n=inputs["grad_h_n"],
            cx=inputs.get("cx"),
            grad_c_n=inputs.get("grad_c_n"),
        )
    ours = run_rnn(case.rnn_for(problem), problem)
    if ours.keys() != expected.keys():
        msg = f"{path.name}: results {sorted(ours)} but the fixture has {sorted(expected)}"
        raise ValueError(msg)
    errors = {name: scaled_error(ours[name], expected[name]) for name in expected}
    worst = max(errors, key=errors.__getitem__)
    return case, errors[worst], worst


def record(directory: Path) -> list[Path]:
    """Record every golden case and the sample's torch states into ``directory`` (needs torch;
    mpmath for the cases torch does not compute)."""
    versions = {"numpy_version": np.__version__, "torch_version": torch_oracle.version()}
    (directory / "golden").mkdir(parents=True, exist_ok=True)
    paths = [_record_sample_states(directory)]
    for case in GOLDEN_CASES:
        problem = case.problem()
        source: dict[str, str] = {}
        if torch_oracle.unsupported(problem) is None:
            expected = torch_oracle.run(problem)
        else:  # a GRU with reset_after=False
            expected = exact_oracle.run(problem)
            source = {"oracle": f"exact arithmetic, {exact_oracle.version()}"}
        inputs = {name: getattr(problem, name) for name in _INPUTS}
        arrays = {
            "config": np.array(json.dumps(_config(case))),
            **{key: np.array(value) for key, value in (versions | source).items()},
            **{f"param.{name}": value for name, value in problem.params.items()},
            **{f"input.{name}": value for name, value in inputs.items() if value is not None},
            **{f"expected.{name}": value for name, value in expected.items()},
        }
        path = directory / "golden" / f"{case.name}.npz"
        np.savez_compressed(path, **arrays)
        paths.append(path)
    return paths


def _record_sample_states(directory: Path) -> Path:
    """Add torch's state sequence for the documented sample to its JSON file."""
    path = directory / "documented_sample.json"
    sample = documented_sample(directory)
    problem = Problem(
        config=RNNConfig(input_size=2, hidden_size=4, batch_first=True),
        dtype="float64",
        params={
            "weight_ih_l0": sample["w_x"].T,
            "weight_hh_l0": sample["w_h"].T,
            "bias_ih_l0": sample["b"].astype(np.float64),
            "bias_hh_l0": np.zeros(4),
        },
        x=sample["x"],
        hx=sample["h"][None],
        lengths=None,
        grad_output=np.zeros((1, 3, 4)),
        grad_h_n=np.zeros((1, 1, 4)),
    )
    states = torch_oracle.run(problem)["output"]
    data = json.loads(path.read_text(encoding="utf-8"))
    data["torch_states"] = states.tolist()
    # one line per key: the arrays stay readable as the exercise writes them
    lines = [f"  {json.dumps(key)}: {json.dumps(value)}" for key, value in data.items()]
    path.write_text("{\n" + ",\n".join(lines) + "\n}\n", encoding="utf-8")
    return path


def _config(case: RNNCase) -> dict[str, Any]:
    """The case as JSON data: its fields, the network's options as ``RNNConfig.options()``.

    Only the options that differ from torch's defaults are written, as the fixtures always had.
    """
    return asdict(case) | {"rnn": case.config.options()}


def _prefixed(data: Any, prefix: str) -> dict[str, FloatArray]:
    return {key.removeprefix(prefix): data[key] for key in data.files if key.startswith(prefix)}


def main(argv: list[str] | None = None) -> int:
    """``python -m reference_rnn.verify.golden [DIRECTORY]``: record the fixtures (default: fixtures/)."""
    args = sys.argv[1:] if argv is None else argv
    directory = Path(args[0]) if args else fixtures_dir()
    for path in record(directory):
        print(f"wrote {path}")  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
