"""The LSTM's parity cases for the oracles (the report's, :data:`~reference_rnn.verify.suite.LSTM_CASES`),
with their test ids."""

from __future__ import annotations

from reference_rnn.verify.suite import LSTM_CASES

__all__ = ["IDS", "LSTM_CASES"]

IDS = [f"{case.name} {case.dtype}" for case in LSTM_CASES]
