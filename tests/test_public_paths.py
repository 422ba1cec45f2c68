"""The import paths the README showed before the package was laid out by subsystem (and before
`testing` became a package) still work."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize(
    ("public", "home"),
    [
        ("reference_rnn.optim", "reference_rnn.training.optim"),
        ("reference_rnn.initializers", "reference_rnn.training.initializers"),
        ("reference_rnn.models", "reference_rnn.training.models"),
        ("reference_rnn.compare", "reference_rnn.core.measure"),
        ("reference_rnn.testing_strategies", "reference_rnn.testing.strategies"),
    ],
)
def test_the_readmes_import_paths_still_work(public: str, home: str) -> None:
    """The paths the README showed before the layout changed are the same objects."""
    front, code = importlib.import_module(public), importlib.import_module(home)
    assert front.__all__ == code.__all__
    for name in code.__all__:
        assert getattr(front, name) is getattr(code, name)
