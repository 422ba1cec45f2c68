"""The exercise's documented sample, and the fixtures folder it lies in.

``fixtures/documented_sample.json`` holds problem 2 of the exercise as the exercise writes it
(integer arrays and their divisor), the line it documents, and the state sequence torch computed
for it. The folder is at the root of a source checkout, and inside an installed package.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["documented_sample", "fixtures_dir"]


def fixtures_dir(package_dir: Path = Path(__file__).parents[1]) -> Path:
    """The fixtures folder: inside an installed package, or at the root of a source checkout."""
    for candidate in (package_dir / "fixtures", package_dir.parent / "fixtures"):
        if (candidate / "documented_sample.json").is_file():
            return candidate
    msg = f"no fixtures next to {package_dir}: reinstall reference_rnn or use a full checkout"
    raise FileNotFoundError(msg)


def documented_sample(directory: Path | None = None) -> dict[str, Any]:
    """The exercise's problem 2, built exactly as the exercise builds it.

    Returns x (1, 3, 2), w_x (2, 4), w_h (4, 4), h (1, 4) zeros and b (4,) as an integer array,
    plus ``printed`` (the documented output line) and ``torch_states`` (1, 3, 4).
    """
    path = (directory or fixtures_dir()) / "documented_sample.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    divisor = data["divisor"]
    return {
        "x": np.array(data["x"]) / divisor,
        "w_x": np.array(data["w_x"]) / divisor,
        "w_h": np.array(data["w_h"]) / divisor,
        "h": np.zeros(np.shape(data["h"])),
        "b": np.array(data["b"]),
        "printed": data["printed"],
        "torch_states": np.array(data["torch_states"]),
    }
