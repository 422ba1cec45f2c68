"""Shared test helpers: versions in the header, a torch fixture, and tolerances."""

from __future__ import annotations

import importlib.util
import os
from types import ModuleType

import numpy as np
import pytest

# The property tests draw the same examples every run (a test that passes passes again);
# HYPOTHESIS_PROFILE=explore draws new ones, to look for what the fixed ones miss. (The browser
# session installs pytest alone: no hypothesis there.)
if importlib.util.find_spec("hypothesis") is not None:
    from hypothesis import settings

    settings.register_profile("fixed", derandomize=True)
    settings.register_profile("explore", derandomize=False)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fixed"))

HAVE_TORCH = importlib.util.find_spec("torch") is not None


def pytest_report_header() -> list[str]:
    torch_version = "not installed"
    if HAVE_TORCH:
        import torch

        torch_version = torch.__version__
    return [f"numpy {np.__version__}, torch {torch_version}"]


@pytest.fixture(scope="session")
def torch() -> ModuleType:
    """torch, or a skip: the live parity tests need it, the rest of the suite does not."""
    module = pytest.importorskip("torch", reason="torch is not installed: live parity tests skip")
    # the networks here are tiny: a second thread only spins, on a machine with two cores
    module.set_num_threads(1)
    return module


@pytest.fixture(autouse=True)
def _worker_user_reads_tmp_path(request: pytest.FixtureRequest) -> None:
    """A test's folder open to the worker user, as a submission's folder is to a grader's.

    Run as root, the checker's worker runs as ``nobody``, and pytest makes each test's folder
    0700 root: the worker could not read the code it checks there (docs/checking.md, Threat model).
    """
    if "tmp_path" in request.fixturenames:
        request.getfixturevalue("tmp_path").chmod(0o777)
    if "pytester" in request.fixturenames:
        request.getfixturevalue("pytester").path.chmod(0o777)
