"""The layers: ``SimpleRNN`` (the exercise's), ``RNN`` (``torch.nn.RNN``'s equivalent), ``LSTM``
and ``LSTMCell`` (:mod:`~reference_rnn.layers.lstm_layer`, over the cell
:mod:`~reference_rnn.layers.lstm_cell`), ``GRU`` and ``GRUCell`` (:mod:`~reference_rnn.layers.gru`).

Both are thin stateful wrappers around the core's functions, with no second copy of the math.
``RNN`` is its cell (:mod:`~reference_rnn.layers.elman_cell`) run by the stack driver
(:mod:`~reference_rnn.layers.stack`: layers, directions, layouts, lengths, dropout) over torch-named
parameters (:mod:`~reference_rnn.layers.parameters`), in the shell every such layer shares
(:mod:`~reference_rnn.layers.stack_layer`); a new cell is one more cell module and its layer class. ``RNN`` also converts to and from torch (:mod:`~reference_rnn.layers.torch_interop`) and to ONNX
(:mod:`~reference_rnn.layers.onnx_export`), each framework imported on demand.

May import the core only: no oracle, no harness (verify, checker), no training.
"""
