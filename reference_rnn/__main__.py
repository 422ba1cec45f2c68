"""``python -m reference_rnn [verify] [--json]``: the verification report."""

from reference_rnn.verify import main

if __name__ == "__main__":
    raise SystemExit(main())
