"""The core: the Elman recurrence as pure functions, and what every other subsystem stands on.

- :mod:`~reference_rnn.core.functional`: every cell's public functions in one namespace;
- one module per cell, the fast version: :mod:`~reference_rnn.core.elman` (``rnn_step_forward``,
  ``rnn_step_backward``, ``rnn_forward``, ``rnn_backward`` and their frozen cache), and beside it
  the textbook version to read, :mod:`~reference_rnn.core.elman_textbook`; the LSTM's,
  :mod:`~reference_rnn.core.lstm` and :mod:`~reference_rnn.core.lstm_textbook`;
- :mod:`~reference_rnn.core.cell_common`: what every cell's module shares (sealed caches, their
  checks, the finiteness checks of arguments and results);
- :mod:`~reference_rnn.core.validation`: the argument checks, one place for every public entry
  point's errors;
- :mod:`~reference_rnn.core.measure`: the error measure, the tolerances, finite differences;
- :mod:`~reference_rnn.core.config`: ``RNN``'s options as one frozen value;
- :mod:`~reference_rnn.core.optional`: importing an optional framework, or saying which extra
  installs it;
- :mod:`~reference_rnn.core.sample`: the exercise's documented sample and the fixtures folder;
- :mod:`~reference_rnn.core.draw`: a layer's random inputs, drawn from a seed.

May import NumPy and the standard library only: no framework, no other subsystem.
"""
