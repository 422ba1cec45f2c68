"""The LSTM of EECS 498-007's A5 (Michigan), in torch: CS231n's functions and the ``LSTM`` class.

Gates in CS231n's order i, f, o, g: ``a = x @ Wx + prev_h @ Wh + b``, split into four (N, H)
blocks. Shapes: x (N, T, D), h0 and every state (N, H), ``Wx (D, 4H)``, ``Wh (H, 4H)``,
``b (4H,)``. The class holds its weights as parameters ``Wx``, ``Wh``, ``b`` on the instance,
``step_forward(x, prev_h, prev_c) -> (next_h, next_c)`` and ``forward(x, h0) -> hn (N, T, H)``
from the cell state c0 = 0; its backward is torch's autograd.
"""

import math

import torch
from torch import nn


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    """One step: next_h, next_c (N, H); x (N, D), prev_h and prev_c (N, H)."""
    H = prev_h.shape[1]
    a = x.mm(Wx) + prev_h.mm(Wh) + b  # (N, 4H): i, f, o, g
    i, f, o = (
        torch.sigmoid(a[:, :H]),
        torch.sigmoid(a[:, H : 2 * H]),
        torch.sigmoid(a[:, 2 * H : 3 * H]),
    )
    g = torch.tanh(a[:, 3 * H :])
    next_c = f * prev_c + i * g
    return o * torch.tanh(next_c), next_c


def lstm_forward(x, h0, Wx, Wh, b):
    """Every hidden state (N, T, H), from h0 (N, H) and c0 = 0."""
    states, prev_h, prev_c = [], h0, torch.zeros_like(h0)
    for t in range(x.shape[1]):
        prev_h, prev_c = lstm_step_forward(x[:, t], prev_h, prev_c, Wx, Wh, b)
        states.append(prev_h)
    return torch.stack(states, dim=1)


class LSTM(nn.Module):
    """An LSTM layer: its weights ``Wx (D, 4H)``, ``Wh (H, 4H)``, ``b (4H,)`` as parameters."""

    def __init__(self, input_dim, hidden_dim, dtype=torch.float32):
        super().__init__()
        self.Wx = nn.Parameter(
            torch.randn(input_dim, 4 * hidden_dim, dtype=dtype) / math.sqrt(input_dim)
        )
        self.Wh = nn.Parameter(
            torch.randn(hidden_dim, 4 * hidden_dim, dtype=dtype) / math.sqrt(hidden_dim)
        )
        self.b = nn.Parameter(torch.zeros(4 * hidden_dim, dtype=dtype))

    def step_forward(self, x, prev_h, prev_c):
        return lstm_step_forward(x, prev_h, prev_c, self.Wx, self.Wh, self.b)

    def forward(self, x, h0):
        return lstm_forward(x, h0, self.Wx, self.Wh, self.b)
