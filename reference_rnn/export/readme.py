"""The ``README.md`` an export writes into its folder: the layout in prose and one worked case.

The worked case is always the exercise's sample through the step functions in float64
(``step-tanh-sample.float64.npz``), whatever ``--only`` chose, so the page reads the same in every
export of a version and seed. Numbers are Python's shortest round-trip form, not NumPy's printing,
which has changed between releases.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reference_rnn.core.measure import TOLERANCE
from reference_rnn.export.gated import EQUATIONS
from reference_rnn.export.manifest import FORMAT_VERSION, RULES
from reference_rnn.export.portable import KINDS, Portable, portable_cases

__all__ = ["readme"]

_EXAMPLE = "step-tanh-sample"


def readme(cases: Sequence[Portable], *, version: str, seed: int) -> bytes:
    """The folder's ``README.md``."""
    counts = {kind: sum(case.kind == kind for case in cases) for kind in KINDS}
    listed = ", ".join(f"{n} {kind}" for kind, n in counts.items() if n)
    example = next(c for c in portable_cases("float64", seed) if c.name == _EXAMPLE)
    x, Wx, b = (example.inputs[name] for name in ("x", "Wx", "b"))
    text = f"""# Portable RNN check cases

Written by `python -m reference_rnn export` (reference_rnn {version}, seed {seed}, format version
{FORMAT_VERSION}): {len(cases)} case files ({listed}). Each holds the inputs of one run of an
Elman RNN, an LSTM or a GRU and the reference's expected outputs and gradients, so that an
implementation in any language can check itself against these files alone.

## Layout

- `index.json` describes everything: the rules below, each kind's equations and arrays, and per
  case its file, SHA-256, dtype, tolerance, nonlinearity, sizes (N batch, T steps, D input
  features, H hidden units; L layers and K directions for `rnn`), and every array's shape and
  layout.
- `index.txt` lists the same case files, one a line: `file kind nonlinearity dtype tolerance`.
- `{{name}}.{{dtype}}.npz`, one a case. Storage: {RULES["storage"]}.

The four kinds: `step` (one step, `x (N, D)`), `sequence` (batch-first `x (N, T, D)`, weights as
`x_t @ Wx`, `Wx (D, H)`), `stateful` (one sequence as two blocks `x1`, `x2`; block 2 starts from
block 1's last state and its backward stops there) and `rnn` (`torch.nn.RNN`'s layout and
parameter names: time-major unless `batch_first`, `weight_ih_l0 (H, D)`, `h_0` and `h_n` indexed
`layer * K + direction`, bidirectional outputs `[forward, reverse]` on the last axis, `lengths`
with packed-sequence semantics).

{_gated()}## Rules

- Loss: {RULES["loss"]}.
- Error: {RULES["error"]}.
- Tolerance: {RULES["tolerance"]}.
- float32: {RULES["float32"]}.

## A worked case: `{example.file}`

The exercise's sample, one tanh step, N = 1, D = 2, H = 4. The file holds the inputs (values in C order,
row after row)
{_listing(example.inputs)}
and the expected values
{_listing(example.expected)}
The forward step is `a = x @ Wx + h0 @ Wh + b`, `h = tanh(a)`; here `h0` is zero, so

    h[0][0] = tanh(x[0][0] * Wx[0][0] + x[0][1] * Wx[1][0] + b[0])
            = tanh({_number(x[0, 0])} * {_number(Wx[0, 0])} + {_number(x[0, 1])} * {_number(Wx[1, 0])} + {_number(b[0])})
            = {_number(example.expected["h"][0, 0])}

Backward: `da = dh * (1 - h**2)`, `db = da.sum(0)`, `dWx = x.T @ da`, `dWh = h0.T @ da` (zero
here), `dx = da @ Wx.T`, `dh0 = da @ Wh.T`. An implementation passes this case when the error of
each of its `h`, `dx`, `dh0`, `dWx`, `dWh` and `db` is at most {TOLERANCE[example.dtype]:g}.
"""
    return text.encode("utf-8")


def _gated() -> str:
    """The section on the LSTM's and the GRU's kinds: their gate order and equations."""
    return f"""## The LSTM and the GRU

Each has the same four kinds, prefixed with its name: `lstm-step`, `lstm-sequence`,
`lstm-stateful`, `lstm`, and `gru-step`, `gru-sequence`, `gru-stateful`, `gru`; their
`nonlinearity` column is `tanh`, the cells' own. The gates are in torch's order, each a block of H
columns of `Wx (D, G)`, `Wh (H, G)` and `b (G,)` in the functional kinds (G = 4H, 3H) and a block
of H rows of torch's `weight_ih`, `weight_hh`, `bias_ih`, `bias_hh` in the layer kinds:

- LSTM, gates **i, f, g, o**: {EQUATIONS["lstm"]}. One bias `b` (torch's `bias_ih + bias_hh`); the
  initial and final cell states are `c0` and `c` (`c_0`, `c_n` in the layer kinds), and the loss
  adds `sum(c * dc)` (`sum(c_n * grad_c_n)`). With `proj_size = P` (layer kinds, `config`),
  `h_t = (o * tanh(c_t)) @ weight_hr.T`, `weight_hr (P, H)`, and h is P wide.
- GRU, gates **r, z, n**, with two biases, `b` on the input side and `bh` on the recurrent side
  (torch's `bias_ih`, `bias_hh`): {EQUATIONS["gru"]}. Every GRU case comes in both conventions,
  named `-reset-after` and `-reset-before`, its `config` says `reset_after`; torch computes the
  first only, ONNX's `GRU` the second by default (`linear_before_reset=0`).

"""


def _number(value: Any) -> str:
    return repr(float(value))


def _listing(arrays: dict[str, Any]) -> str:
    """Each array's name, shape and values, one a line, as a Markdown list."""
    lines = []
    for name, a in arrays.items():
        values = ", ".join(_number(v) for v in a.ravel())
        lines.append(f"- `{name}` {tuple(a.shape)}: {values}")
    return "\n" + "\n".join(lines) + "\n"
