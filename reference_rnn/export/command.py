"""``python -m reference_rnn export DIR``: every configuration's cases as files any language reads.

What is written (:mod:`~reference_rnn.export.portable` builds the cases,
:mod:`~reference_rnn.export.npz` their bytes, :mod:`~reference_rnn.export.manifest` and
:mod:`~reference_rnn.export.readme` the files that describe them): one ``{case}.{dtype}.npz`` per
case and dtype, ``index.json`` (format version 2), ``index.txt`` and ``README.md``. Two exports of
the same version and seed are byte-identical with the same NumPy build; across NumPy releases only
float64 expected values can move, in their last bits, with NumPy's own arithmetic.

How it is written: every file goes to a temporary name in DIR and is then renamed over its final
name, so a reader never sees half a file; an existing symbolic link at any name the export writes
is refused (DIR's content is never followed out of DIR), checked before anything is written; a
file-system error is one line on stderr and exit status 1. An earlier export in DIR is replaced:
the case files its ``index.json`` lists and this export does not write are removed after the new
files are in place, so that DIR holds exactly what the new index lists (other files are left).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import fnmatch
import importlib.metadata
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from reference_rnn.checker.battery import DTYPES
from reference_rnn.export.manifest import FORMAT, index_json, index_txt
from reference_rnn.export.npz import npz_bytes
from reference_rnn.export.portable import Portable, portable_cases
from reference_rnn.export.readme import readme

__all__ = [
    "ExportError",
    "add_arguments",
    "build",
    "command",
    "select",
    "write",
    "write_files",
]

_PROG = "reference-rnn export"


class ExportError(OSError):
    """A target the export refuses to write (a symbolic link, a file where DIR should be)."""


def select(dtypes: Sequence[str], seed: int, only: Sequence[str] = ()) -> list[Portable]:
    """The cases in each dtype (repeats ignored) whose name matches a pattern of ``only``."""
    cases = [case for dtype in dict.fromkeys(dtypes) for case in portable_cases(dtype, seed)]
    if only:
        cases = [c for c in cases if any(fnmatch.fnmatchcase(c.name, p) for p in only)]
    return cases


def build(cases: Sequence[Portable], *, seed: int) -> dict[str, bytes]:
    """Every file of an export, by name: the case files, then index.json, index.txt, README.md."""
    version = importlib.metadata.version("reference-rnn")  # the package's __version__
    files = {case.file: npz_bytes(case.arrays) for case in cases}
    files["index.json"] = index_json(cases, files, version=version, seed=seed)
    files["index.txt"] = index_txt(cases)
    files["README.md"] = readme(cases, version=version, seed=seed)
    return files


def write(
    directory: Path,
    dtypes: Sequence[str] = DTYPES,
    seed: int = 0,
    only: Sequence[str] = (),
) -> Path:
    """Write the export into ``directory`` (created); the path of its ``index.json``."""
    write_files(directory, build(select(dtypes, seed, only), seed=seed))
    return directory / "index.json"


def write_files(directory: Path, files: dict[str, bytes]) -> None:
    """Each file into ``directory`` (created), atomically.

    Raises OSError (:class:`ExportError` for a refused target) before writing anything when
    ``directory`` is not a folder or holds a symbolic link at a name to write.
    """
    if directory.exists() and not directory.is_dir():
        raise ExportError(errno.ENOTDIR, "not a directory", str(directory))
    for name in files:
        if (directory / name).is_symlink():
            raise ExportError(
                errno.ELOOP, "a symbolic link: export does not follow links", str(directory / name)
            )
    directory.mkdir(parents=True, exist_ok=True)
    earlier = _listed(directory / "index.json")
    for name, data in files.items():
        _replace(directory, name, data)
    for name in earlier - files.keys():
        with contextlib.suppress(FileNotFoundError):
            (directory / name).unlink()


def _listed(index: Path) -> set[str]:
    """The case files an earlier export's ``index`` lists: plain names in DIR, nothing else.

    An index that is not an export's (unreadable, another format) lists nothing: only what an
    export wrote is removed, and never a path out of DIR or a link (unlink removes the link).
    """
    try:
        document = json.loads(index.read_bytes())
        files = [case["file"] for case in document["cases"]]
    except (OSError, ValueError, TypeError, KeyError):
        return set()
    if document.get("format") != FORMAT:
        return set()
    return {
        f for f in files if isinstance(f, str) and f == Path(f).name and f not in ("", ".", "..")
    }


def _replace(directory: Path, name: str, data: bytes) -> None:
    """Write ``data`` to a new temporary file in ``directory``, then rename it to ``name``.

    mkstemp creates the file exclusively (O_EXCL): it never opens an existing file or link; the
    rename replaces a directory entry and never follows a link.
    """
    try:
        fd, path = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
    except OSError as exc:  # name the file, not the temporary's random name
        raise OSError(exc.errno, exc.strerror, str(directory / name)) from exc
    temporary = Path(path)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
        temporary.chmod(0o644)
        temporary.replace(directory / name)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


def _directory(text: str) -> Path:
    if not text.strip():
        msg = "DIR must name a folder, got an empty path"
        raise argparse.ArgumentTypeError(msg)
    return Path(text)


def _seed(text: str) -> int:
    if not text.isdigit():
        msg = f"--seed must be a non-negative integer, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return int(text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``export``'s arguments."""
    parser.add_argument("directory", metavar="DIR", type=_directory, help="where to write")
    parser.add_argument(
        "--dtype", choices=DTYPES, action="append", help="only this dtype (default: both)"
    )
    parser.add_argument("--seed", type=_seed, default=0, help="the cases' seed (default: 0)")
    parser.add_argument(
        "--only",
        metavar="PATTERN",
        action="append",
        default=[],
        help="only the cases whose name matches (shell-style, e.g. 'step-*'; repeatable)",
    )


def command(args: argparse.Namespace) -> int:
    """Write the files; print where and how many. Exit 1 with one line on a file-system error."""
    dtypes = tuple(dict.fromkeys(args.dtype or DTYPES))
    cases = select(dtypes, args.seed, args.only)
    if not cases:
        sys.stderr.write(f"{_PROG}: no case matches --only {' '.join(args.only)}\n")
        return 2
    try:
        write_files(args.directory, build(cases, seed=args.seed))
    except OSError as exc:
        where = exc.filename2 or exc.filename
        sys.stderr.write(f"{_PROG}: cannot write {where}: {exc.strerror or exc}\n")
        return 1
    sys.stdout.write(
        f"wrote {len(cases)} case files ({', '.join(dtypes)}), index.json, index.txt and "
        f"README.md to {args.directory}\n"
    )
    return 0
