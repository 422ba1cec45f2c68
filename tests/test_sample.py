"""The exercise's documented sample (problem 2): its own lines print its documented numbers."""

from __future__ import annotations

from types import ModuleType

import numpy as np

import reference_rnn as rr
from reference_rnn.core.measure import scaled_error
from reference_rnn.core.sample import documented_sample


def test_the_exercise_lines_print_the_documented_line(capsys):
    s = documented_sample()
    x, w_x, w_h, h, b = s["x"], s["w_x"], s["w_h"], s["h"], s["b"]
    assert b.dtype.kind == "i"  # the exercise's bias is an integer array

    # the exercise's own lines, verbatim
    rnn = rr.SimpleRNN(w_x, w_h, b)
    print(rnn.forward(x, h)[-1])

    assert capsys.readouterr().out == s["printed"] + "\n"
    assert s["printed"] == "[0.79494228 0.81839002 0.83939649 0.85584174]"


def test_every_state_matches_torchs_recorded_states():
    s = documented_sample()
    states = rr.SimpleRNN(s["w_x"], s["w_h"], s["b"], return_sequences=True).forward(s["x"], s["h"])
    assert states.shape == (1, 3, 4)
    assert scaled_error(states, s["torch_states"]) <= 1e-15


def test_every_state_matches_torch_live(torch: ModuleType):
    s = documented_sample()
    rnn = torch.nn.RNN(2, 4, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.tensor(s["w_x"].T))
        rnn.weight_hh_l0.copy_(torch.tensor(s["w_h"].T))
        rnn.bias_ih_l0.copy_(torch.tensor(s["b"]))
        rnn.bias_hh_l0.zero_()
    expected, _ = rnn(torch.tensor(s["x"]), torch.tensor(s["h"][None]))
    h, _ = rr.rnn_forward(s["x"], s["h"], s["w_x"], s["w_h"], s["b"])
    assert scaled_error(h, expected.detach().numpy()) <= 1e-15


def test_the_sample_is_not_modified():
    s = documented_sample()
    before = {name: np.copy(value) for name, value in s.items() if name != "printed"}
    rnn = rr.SimpleRNN(s["w_x"], s["w_h"], s["b"])
    rnn.forward(s["x"], s["h"])
    rnn.backward(np.ones((1, 4)))
    for name, value in before.items():
        np.testing.assert_array_equal(s[name], value)
    assert s["b"].dtype.kind == "i"
