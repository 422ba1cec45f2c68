"""``python -m reference_rnn [COMMAND]``: see :mod:`reference_rnn.cli`."""

from reference_rnn.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
