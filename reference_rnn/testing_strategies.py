"""The old path of :mod:`reference_rnn.testing.strategies`, kept working: the same objects."""

from reference_rnn.testing.strategies import cases, sizes, weights

__all__ = ["cases", "sizes", "weights"]
