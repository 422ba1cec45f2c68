"""An RNN from scratch as Dive into Deep Learning writes it, in torch. It passes ``check --api d2l``.

``rnn(inputs, state, params)``: inputs (T, N, V), time-major; ``state`` a tuple of one H (N, h);
``params`` = [W_xh (V, h), W_hh (h, h), b_h (h,), W_hq (h, q), b_q (q,)]. Each step's output
``H @ W_hq + b_q``, concatenated: (T * N, q). The gradients are torch's autograd through it.

    python -m reference_rnn check examples/d2l_rnn_scratch.py:rnn --api d2l
"""

import torch


def rnn(inputs, state, params):
    """Every step's output, (T * N, q), and the final state as a tuple (H,)."""
    W_xh, W_hh, b_h, W_hq, b_q = params
    (H,) = state
    outputs = []
    for X in inputs:  # X (N, V): one step
        H = torch.tanh(X @ W_xh + H @ W_hh + b_h)
        outputs.append(H @ W_hq + b_q)
    return torch.cat(outputs, dim=0), (H,)
