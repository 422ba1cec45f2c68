"""The LSTM and the GRU from scratch as Dive into Deep Learning writes them, in torch.

``lstm(inputs, state, params)`` and ``gru(inputs, state, params)``: inputs (T, N, V), time-major;
``state`` the tuple (H, C) for the LSTM, (H,) for the GRU, each (N, h). A gate's parameters are
its own ``W_x* (V, h)``, ``W_h* (h, h)``, ``b_* (h,)``, then the output layer ``W_hq (h, q)``,
``b_q (q,)``:

- LSTM, ``params`` = [W_xi, W_hi, b_i, W_xf, W_hf, b_f, W_xo, W_ho, b_o, W_xc, W_hc, b_c, W_hq, b_q];
- GRU, ``params`` = [W_xz, W_hz, b_z, W_xr, W_hr, b_r, W_xh, W_hh, b_h, W_hq, b_q], the reset gate
  applied before the recurrent product: ``H_tilda = tanh(X @ W_xh + (R * H) @ W_hh + b_h)``,
  ``H = Z * H + (1 - Z) * H_tilda``.

Each step's output ``H @ W_hq + b_q``, concatenated: (T * N, q). The gradients are torch's
autograd through it.
"""

import torch


def lstm(inputs, state, params):
    """Every step's output, (T * N, q), and the final state (H, C)."""
    W_xi, W_hi, b_i, W_xf, W_hf, b_f, W_xo, W_ho, b_o, W_xc, W_hc, b_c, W_hq, b_q = params
    H, C = state
    outputs = []
    for X in inputs:  # X (N, V): one step
        I = torch.sigmoid(X @ W_xi + H @ W_hi + b_i)
        F = torch.sigmoid(X @ W_xf + H @ W_hf + b_f)
        O = torch.sigmoid(X @ W_xo + H @ W_ho + b_o)
        C_tilda = torch.tanh(X @ W_xc + H @ W_hc + b_c)
        C = F * C + I * C_tilda
        H = O * torch.tanh(C)
        outputs.append(H @ W_hq + b_q)
    return torch.cat(outputs, dim=0), (H, C)


def gru(inputs, state, params):
    """Every step's output, (T * N, q), and the final state as a tuple (H,)."""
    W_xz, W_hz, b_z, W_xr, W_hr, b_r, W_xh, W_hh, b_h, W_hq, b_q = params
    (H,) = state
    outputs = []
    for X in inputs:
        Z = torch.sigmoid(X @ W_xz + H @ W_hz + b_z)
        R = torch.sigmoid(X @ W_xr + H @ W_hr + b_r)
        H_tilda = torch.tanh(X @ W_xh + (R * H) @ W_hh + b_h)
        H = Z * H + (1 - Z) * H_tilda
        outputs.append(H @ W_hq + b_q)
    return torch.cat(outputs, dim=0), (H,)
