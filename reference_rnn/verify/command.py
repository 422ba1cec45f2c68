"""``python -m reference_rnn verify [--json] [--against NAMES] [--html PATH]``."""

from __future__ import annotations

import argparse
import json
import sys

from reference_rnn import oracles, pages
from reference_rnn.verify import drift, html
from reference_rnn.verify.plan import run
from reference_rnn.verify.rows import Row, Verification
from reference_rnn.verify.text import format_table, progress_to


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``verify``'s options."""
    parser.add_argument("--json", action="store_true", help="print one JSON document instead")
    parser.add_argument(
        "--against",
        type=_oracle_names,
        default=None,
        metavar="NAMES",
        help=(
            "comma-separated oracles to run, each required: one that cannot run fails the report "
            f"(default: every installed one of {', '.join(oracles.ORACLES)})"
        ),
    )
    parser.add_argument(
        "--html",
        metavar="PATH",
        default=None,
        help="also write one self-contained HTML page with plots (needs the [report] extra)",
    )


def _oracle_names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in oracles.ORACLES]
    if unknown or not names:
        msg = f"unknown oracle(s) {unknown or [text]}; choose from {', '.join(oracles.ORACLES)}"
        raise argparse.ArgumentTypeError(msg)
    return names


def _require(report: Verification, names: list[str]) -> None:
    """Each oracle that ``--against`` named and that could not run becomes a failed row.

    Without ``--against`` a missing framework is skipped, and the report says so; named, it is a
    requirement, so that ``verify --against torch`` can gate a CI job that wants torch's checks.
    """
    for name in names:
        reason = report.skipped.pop(name, None)
        if reason is not None:
            report.checks.append(
                Row(f"{name}: not installed, required", name, "-", None, 0.0, reason)
            )


def command(args: argparse.Namespace) -> int:
    """Run the report and print it; 0 only when every check passes."""
    if args.html is not None:
        try:  # before the checks run, not minutes later
            pages.require_matplotlib()
        except ImportError as exc:
            print(f"verify --html: {exc}", file=sys.stderr)  # noqa: T201
            return 2
    report = run(progress=progress_to(sys.stderr), against=args.against)
    if args.against is not None:
        _require(report, args.against)
    if sys.stderr.isatty():
        sys.stderr.write("\r\033[K")
    if args.json:
        print(json.dumps(report.to_json(), indent=2))  # noqa: T201
    else:
        print(format_table(report))  # noqa: T201
    if args.html is not None:
        html.write(report, args.html, drift.measure_drift())
    return 0 if report.passed else 1
