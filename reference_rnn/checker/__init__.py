"""The checker: someone else's RNN against the reference, and the name of its mistake.

``python -m reference_rnn check`` and :mod:`reference_rnn.testing` run the battery
(:mod:`~reference_rnn.checker.battery`) through the user's API (:mod:`~reference_rnn.checker.apis`,
one module per API), compare each value with the reference's (:mod:`~reference_rnn.checker.runner`)
and, when a check fails, name the catalogued mistakes (:mod:`~reference_rnn.checker.catalogue`)
that the results match (:mod:`~reference_rnn.checker.diagnosis`). The code under test runs only
in a worker process (:mod:`~reference_rnn.checker.worker`; the checker's side of the boundary:
:mod:`~reference_rnn.checker.sandbox`, ``process`` with its channel, ``remote``, ``target``).
:mod:`reference_rnn.export` writes the battery's cases as files for any language.

May import the core, the layers and :mod:`reference_rnn.pages`: never an oracle (the expected
values are the reference's own) and nothing of verify.
"""
