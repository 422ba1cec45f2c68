"""``GRU.to_onnx``: ONNX's gate order and ``linear_before_reset``, run in onnxruntime (float32) and
the ONNX reference evaluator (float64), both conventions; and the exporters' pitfall measured.

ONNX's GRU is the other convention by default (``linear_before_reset=0``): an exporter that leaves
the attribute out exports torch's GRU as a different function. The runtimes implement ONNX's
specification independently of the package, so their agreement with the layer in each convention
is an independent check of both; flipping the attribute shows by how much the other convention
differs on the same weights.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import reference_rnn as rr
from reference_rnn.core.measure import TOLERANCE, scaled_error

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
onnx_reference = pytest.importorskip("onnx.reference")


def _session(model):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


def _inputs(gru, N=3, T=5, lengths=None, seed=1):
    rng = np.random.default_rng(seed)
    c = gru.config
    x_shape = (N, T, c.input_size) if c.batch_first else (T, N, c.input_size)
    feeds = {
        "input": rng.standard_normal(x_shape).astype(gru.dtype),
        "hx": rng.uniform(-1, 1, (c.num_layers * c.num_directions, N, 4)).astype(gru.dtype),
    }
    if lengths is not None:
        feeds["lengths"] = np.array(lengths, dtype=np.int64)
    return feeds


def _run_layer(gru, feeds):
    return gru(feeds["input"], feeds["hx"], feeds.get("lengths"))


def _flipped(model):
    """The same model with each GRU node's linear_before_reset flipped: the other convention."""
    flipped = onnx.ModelProto()
    flipped.CopyFrom(model)
    for node in flipped.graph.node:
        for attribute in node.attribute:
            if attribute.name == "linear_before_reset":
                attribute.i = 1 - attribute.i
    return flipped


OPTIONS = [
    pytest.param(
        {"num_layers": layers, "bidirectional": bi, "batch_first": bf, "bias": bias},
        lengths,
        reset_after,
        id=f"L{layers}-{'bi' if bi else 'uni'}-{'bf' if bf else 'tm'}-{'bias' if bias else 'nobias'}"
        f"-{'lengths' if lengths else 'full'}-{'after' if reset_after else 'before'}",
    )
    for layers, bi, bf, bias, lengths, reset_after in itertools.product(
        (1, 2), (False, True), (False, True), (True, False), (None, (3, 5, 1)), (True, False)
    )
]


@pytest.mark.parametrize(("options", "lengths", "reset_after"), OPTIONS)
def test_to_onnx_runs_in_onnxruntime_as_the_layer_does(options, lengths, reset_after):
    gru = rr.GRU(3, 4, **options, reset_after=reset_after, dtype=np.float32, seed=0).eval()
    feeds = _inputs(gru, lengths=lengths)
    model = gru.to_onnx(lengths=lengths is not None)
    output, h_n = _session(model).run(None, feeds)
    expected_output, expected_h_n = _run_layer(gru, feeds)
    assert output.dtype == h_n.dtype == np.float32
    assert scaled_error(output, expected_output) <= TOLERANCE["float32"]
    assert scaled_error(h_n, expected_h_n) <= TOLERANCE["float32"]


@pytest.mark.parametrize("reset_after", [True, False])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_the_reference_evaluator_agrees_in_float64(reset_after, bidirectional):
    gru = rr.GRU(3, 4, 2, bidirectional=bidirectional, reset_after=reset_after, seed=0).eval()
    feeds = _inputs(gru)
    output, h_n = onnx_reference.ReferenceEvaluator(gru.to_onnx()).run(None, feeds)
    expected_output, expected_h_n = _run_layer(gru, feeds)
    assert scaled_error(output, expected_output) <= TOLERANCE["float64"]
    assert scaled_error(h_n, expected_h_n) <= TOLERANCE["float64"]


@pytest.mark.parametrize("reset_after", [True, False])
def test_linear_before_reset_is_always_written_and_the_gates_reordered(reset_after):
    gru = rr.GRU(3, 4, bidirectional=True, reset_after=reset_after, seed=0)
    model = gru.to_onnx()
    (node,) = [node for node in model.graph.node if node.op_type == "GRU"]
    attributes = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    assert attributes["linear_before_reset"] == int(reset_after)
    assert attributes["activations"] == [b"Sigmoid", b"Tanh"] * 2
    arrays = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}
    H = 4
    for k, suffix in enumerate(("", "_reverse")):
        r, z, n = np.split(gru.params[f"weight_ih_l0{suffix}"], 3)
        np.testing.assert_array_equal(arrays["W_l0"][k], np.concatenate([z, r, n]))  # z, r, h
        r, z, n = np.split(gru.params[f"weight_hh_l0{suffix}"], 3)
        np.testing.assert_array_equal(arrays["R_l0"][k], np.concatenate([z, r, n]))
        b_r, b_z, b_n = np.split(gru.params[f"bias_ih_l0{suffix}"], 3)
        np.testing.assert_array_equal(arrays["B_l0"][k][: 3 * H], np.concatenate([b_z, b_r, b_n]))


@pytest.mark.parametrize("reset_after", [True, False])
def test_a_model_with_the_other_conventions_attribute_differs_by_about_a_tenth(reset_after):
    """The pitfall: the same weights under the other ``linear_before_reset``.

    Measured here (H = 4, torch's initialisation, x standard normal, T = 5, N = 3): the output
    differs by 0.140 at most, 19% of the outputs' largest value (0.73 and 0.76), in either
    direction of the mistake; far above float32 rounding (1e-7), yet small enough to pass a
    glance at the numbers.
    """
    gru = rr.GRU(3, 4, reset_after=reset_after, dtype=np.float32, seed=0).eval()
    feeds = _inputs(gru)
    expected, _ = _run_layer(gru, feeds)
    right, _ = _session(gru.to_onnx()).run(None, feeds)
    wrong, _ = _session(_flipped(gru.to_onnx())).run(None, feeds)
    assert scaled_error(right, expected) <= TOLERANCE["float32"]
    difference = float(np.abs(wrong - expected).max())
    assert 0.05 < difference < 0.5, difference
    # the flipped model is the other convention: our layer with reset_after flipped computes it
    other = rr.GRU(3, 4, reset_after=not reset_after, dtype=np.float32).eval()
    other.load_state_dict(gru.state_dict())
    assert scaled_error(wrong, _run_layer(other, feeds)[0]) <= TOLERANCE["float32"]
