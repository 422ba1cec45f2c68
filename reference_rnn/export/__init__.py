"""Export: the checker's cases as files any language reads (``python -m reference_rnn export DIR``).

:mod:`~reference_rnn.export.command` writes them; :mod:`~reference_rnn.export.portable` builds
each configuration's cases from the checker's battery and the layers, :mod:`~reference_rnn.export.npz`
their bytes, :mod:`~reference_rnn.export.manifest` and :mod:`~reference_rnn.export.readme` the
files that describe them.

May import the core, the layers and the checker's cases (:mod:`reference_rnn.checker.battery`):
never its runner, its worker or an oracle.
"""
