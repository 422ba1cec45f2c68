"""The verification report: every check this package makes of itself, run where you can watch it.

    python -m reference_rnn verify [--json] [--against torch,jax,...]

Each row is one comparison, with its measured error and its tolerance, against one of:

- documented sample: the exercise's own lines print the exercise's documented numbers;
- an oracle (:mod:`reference_rnn.oracles`): torch, JAX, Keras, onnxruntime, the ONNX reference
  evaluator and exact arithmetic, each built from the same raw arrays with its framework's own API;
  the functional core, SimpleRNN and RNN's options, float64 and float32, outputs and every
  gradient the framework gives, with an arbitrary upstream gradient;
- finite differences: central differences in float64, independent of every framework;
- golden fixture: torch's results recorded on disk, so this part runs without torch;
- the training parts (:mod:`reference_rnn.verify.training_rows`): the optimizers, clipping, truncated
  BPTT and a classifier's training steps against torch; the initializers against their laws
  (statistics) and against what holds exactly (definition).

An oracle whose framework is not installed is skipped, and the report says so and why. Where an
oracle is known to disagree with torch's documented semantics, its row shows the measured
difference as a known difference, with the reason; it is neither a pass nor a failure.

When exact arithmetic runs, the report ends with each float64 implementation's error against it
(ours, torch's, JAX's) in units of float64 eps, case by case
(:func:`~reference_rnn.verify.plan.exact_accuracy`).

Modules: :mod:`~reference_rnn.verify.suite` (what is checked), :mod:`~reference_rnn.verify.cases`
(a case's raw arrays and both sides of its comparison), :mod:`~reference_rnn.verify.golden` (the
golden fixtures), :mod:`~reference_rnn.verify.training_rows`, :mod:`~reference_rnn.verify.plan`
(planning and running), :mod:`~reference_rnn.verify.rows`, :mod:`~reference_rnn.verify.text` and
:mod:`~reference_rnn.verify.html` (the report as text and as a page, with
:mod:`~reference_rnn.verify.drift`'s float32 experiment), :mod:`~reference_rnn.verify.command`.

May import the core, the layers, the oracles and the training subsystem; never the checker.
"""
