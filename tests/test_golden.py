"""The golden fixtures: torch's results on disk, checked with or without torch."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from reference_rnn.core.measure import TOLERANCE, scaled_error
from reference_rnn.core.sample import fixtures_dir
from reference_rnn.verify.golden import (
    GOLDEN_CASES,
    check_golden,
    golden_paths,
    load_case,
    main,
)


def test_there_is_a_fixture_for_every_golden_case():
    assert sorted(path.stem for path in golden_paths()) == sorted(c.name for c in GOLDEN_CASES)


@pytest.mark.parametrize("path", golden_paths(), ids=lambda path: path.stem)
def test_reference_matches_the_recorded_torch_results(path):
    case, error, worst = check_golden(path)
    assert error <= TOLERANCE[case.dtype], f"{worst}: scaled error {error:.2e}"


@pytest.mark.parametrize("path", golden_paths(), ids=lambda path: path.stem)
def test_fixtures_say_who_made_them_and_load_without_pickle(path):
    with np.load(path, allow_pickle=False) as data:
        assert str(data["torch_version"]).startswith("2.")
        assert str(data["numpy_version"])[0] in "12"
        assert json.loads(str(data["config"]))["name"] == path.stem
        assert any(key.startswith("expected.grad.") for key in data.files)


def test_golden_cases_cover_the_options():
    def has(predicate):
        return any(predicate(case) for case in GOLDEN_CASES)

    assert has(lambda c: c.lengths is not None)
    assert has(lambda c: c.unbatched)
    assert has(lambda c: c.config.bidirectional)
    assert has(lambda c: c.config.num_layers == 3)
    assert has(lambda c: c.config.nonlinearity == "relu")
    assert has(lambda c: not c.config.bias)
    assert has(lambda c: c.config.batch_first)
    assert has(lambda c: c.dtype == "float32")
    assert has(lambda c: not c.hx)
    assert has(lambda c: c.config.cell == "LSTM" and c.config.proj_size > 0)
    assert has(lambda c: c.config.cell == "LSTM" and c.lengths is not None)
    assert {c.config.reset_after for c in GOLDEN_CASES if c.config.cell == "GRU"} == {True, False}


@pytest.mark.parametrize("path", golden_paths(), ids=lambda path: path.stem)
def test_a_fixture_torch_cannot_compute_holds_exact_arithmetic_and_says_so(path):
    """torch computes every fixture but the GRU's with reset_after=False: those are mpmath's."""
    case = load_case(path)
    with np.load(path, allow_pickle=False) as data:
        source = str(data["oracle"]) if "oracle" in data.files else "torch"
    if case.config.reset_after:
        assert source == "torch"
    else:
        assert source.startswith("exact arithmetic, mpmath ")
        assert case.dtype == "float64"


def test_a_fixture_whose_results_do_not_match_the_api_is_an_error(tmp_path):
    source = golden_paths()[0]
    with np.load(source, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files if key != "expected.grad_hx"}
    broken = tmp_path / "broken.npz"
    np.savez(broken, **arrays)
    assert load_case(broken).name == source.stem
    with pytest.raises(ValueError, match="grad_hx"):
        check_golden(broken)


def test_recording_again_reproduces_the_committed_fixtures(torch: ModuleType, tmp_path, capsys):
    shutil.copy(fixtures_dir() / "documented_sample.json", tmp_path)
    assert main([str(tmp_path)]) == 0  # python -m reference_rnn.verify.golden DIRECTORY
    assert capsys.readouterr().out.count("wrote ") == 1 + len(GOLDEN_CASES)
    for path in golden_paths(tmp_path):
        committed = fixtures_dir() / "golden" / path.name
        dtype = load_case(committed).dtype
        with np.load(path) as new, np.load(committed) as old:
            assert new.files == old.files
            for key in new.files:
                if key.startswith(("param.", "input.")):  # drawn from the seed: identical
                    np.testing.assert_array_equal(new[key], old[key], err_msg=key)
                if key.startswith("expected."):  # torch's results, at the case's own tolerance
                    assert scaled_error(new[key], old[key]) <= TOLERANCE[dtype], key
    sample = json.loads((tmp_path / "documented_sample.json").read_text())
    committed_sample = json.loads((fixtures_dir() / "documented_sample.json").read_text())
    assert sample.keys() == committed_sample.keys()
    assert scaled_error(sample["torch_states"], committed_sample["torch_states"]) <= 1e-15


def test_fixtures_are_found_in_a_package_or_a_checkout(tmp_path):
    checkout = fixtures_dir()
    assert (checkout / "documented_sample.json").is_file()
    package = tmp_path / "site-packages" / "reference_rnn"
    shutil.copytree(checkout, package / "fixtures")
    assert fixtures_dir(package) == package / "fixtures"
    assert fixtures_dir(Path(checkout.parent / "reference_rnn")) == checkout
    with pytest.raises(FileNotFoundError, match="no fixtures"):
        fixtures_dir(tmp_path / "nowhere" / "reference_rnn")
