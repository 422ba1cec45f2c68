"""Optional frameworks: import one, or say what needed it and which extra installs it.

``import reference_rnn`` needs NumPy only. torch, jax, keras, onnx, onnxruntime, mpmath and
matplotlib come with the extras of ``pyproject.toml`` (``oracle-torch``, ..., ``report``) and are
imported where they are used, through :func:`require`, so that a missing one is always the same
kind of ImportError::

    the JAX oracle needs jax: pip install "reference-rnn[oracle-jax]" (No module named 'jax')
"""

from __future__ import annotations

import importlib
import importlib.metadata
from types import ModuleType

__all__ = ["measured_on", "require"]


def require(module_name: str, *, extra: str, purpose: str) -> ModuleType:
    """``importlib.import_module(module_name)``, or an ImportError that says how to install it.

    ``extra`` is the extra of reference-rnn that brings the framework (``"oracle-jax"``);
    ``purpose`` is what needs it, the subject of the message's sentence (``"the JAX oracle"``).
    The message ends with the original error, which tells a missing package from a broken one.
    """
    try:
        return importlib.import_module(module_name)
    except ImportError as exc:
        package = module_name.partition(".")[0]
        msg = f'{purpose} needs {package}: pip install "reference-rnn[{extra}]" ({exc})'
        raise ImportError(msg, name=module_name) from exc


def measured_on(distribution: str, releases: tuple[str, ...]) -> bool:
    """Whether the installed ``distribution`` is one of ``releases`` (exact, or a prefix).

    For an oracle's known difference: what was measured on one release is not claimed of another.
    """
    try:
        installed = importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return False
    return installed.startswith(releases)
