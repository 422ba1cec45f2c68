"""Training with the course's interface: initializers, ``torch.optim``'s optimizers, a classifier.

- :mod:`~reference_rnn.training.initializers`: ``.W(n_nodes1, n_nodes2)`` and ``.B(n_nodes2)``;
- :mod:`~reference_rnn.training.optim`: SGD, AdaGrad, RMSprop and Adam with ``torch.optim``'s
  names, defaults and update rules, and gradient clipping;
- :mod:`~reference_rnn.training.models`: ``RNNClassifier``, the course's many-to-one classifier.

``reference_rnn.initializers``, ``reference_rnn.optim`` and ``reference_rnn.models`` are the same
modules' public paths. May import the core and the layers.
"""
