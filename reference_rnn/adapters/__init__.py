"""Adapters between ``RNN`` and other frameworks' objects; each imports its framework on demand.

The core (``functional``, ``SimpleRNN``, ``RNN``) imports none of them: ``RNN.to_torch`` and
``RNN.to_onnx`` import their adapter when they are called.
"""
