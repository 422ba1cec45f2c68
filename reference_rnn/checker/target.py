"""TARGET, the code a check is about: loading it, and naming an object so that a worker can load it.

TARGET is ``path/to/file.py:NAME`` or ``package.module:NAME`` for a class (``dlfs2``,
``dlfs2-cell``, ``sprint``), or ``path/to/file.py`` or ``package.module`` for a module of functions
(``cs231n``). A file is run as a script would be, with its directory first on ``sys.path``.

:func:`load_target` runs the user's code: the checker calls it in its worker process
(:mod:`reference_rnn.checker.worker`), or in-process when asked to. :func:`locate` runs none: it
turns a class or module that ``reference_rnn.testing.check`` was given into the TARGET a worker
loads again.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from importlib.machinery import PathFinder
from pathlib import Path
from types import ModuleType

from reference_rnn.checker.apis.calling import call_user

__all__ = ["TargetNotFoundError", "load_target", "locate", "search_path", "source_file"]

_FILE_PREFIX = "_checked_"  # the module name a file is loaded under


class TargetNotFoundError(LookupError):
    """TARGET names no file, module or attribute."""


def load_target(target: str) -> object:
    """The class or module TARGET names; UserCodeError when its code raises while loading."""
    source, name = _split(target)
    module = _load_file(Path(source)) if _is_file(source) else _import(source)
    if not name:
        return module
    found = call_user(f"reading {name} of {source}", lambda: vars(module).get(name, _MISSING))
    if found is _MISSING:
        msg = f"{source} has no {name}"
        raise TargetNotFoundError(msg)
    return found


_MISSING = object()


def _split(target: str) -> tuple[str, str]:
    """TARGET's file or module, and the NAME after it (``""`` for a module of functions)."""
    head, sep, tail = target.rpartition(":")
    return (head, tail) if sep and tail.isidentifier() else (target, "")


def _is_file(source: str) -> bool:
    return source.endswith(".py") or "/" in source


def source_file(target: str) -> Path:
    """The file TARGET's code is in, found without running any of it (a package's
    ``__init__.py`` neither); TargetNotFoundError, with the worker's words, when there is none.

    A module is looked for as the worker imports it: along :func:`search_path`, then by the
    other finders on ``sys.meta_path`` (an editable install's), a package at a time.
    """
    source, _ = _split(target)
    if _is_file(source):
        path = Path(source)
        if not path.is_file():
            msg = f"no file {path}"
            raise TargetNotFoundError(msg)
        return path.resolve()
    parts = source.split(".")
    spec, locations = None, search_path()
    if all(part.isidentifier() for part in parts):
        for i in range(len(parts)):
            name = ".".join(parts[: i + 1])
            # the path's finder given the last part alone: for a package's part it would
            # otherwise read its parent in sys.modules, where nothing was imported
            others = (f.find_spec(name, locations) for f in sys.meta_path if f is not PathFinder)
            spec = PathFinder.find_spec(parts[i], locations) or next(filter(None, others), None)
            if spec is None or spec.submodule_search_locations is None:
                break  # not found; or a module, which has no submodules
            locations = (
                list(spec.submodule_search_locations)
                if spec.origin is not None
                # a namespace package's folders, found as its path object would find them
                else [str(Path(f) / parts[i]) for f in locations if (Path(f) / parts[i]).is_dir()]
            )
    if spec is None or name != source or spec.origin is None or not Path(spec.origin).is_file():
        msg = f"no module {source!r} (and no file: a file's name ends in .py)"
        raise TargetNotFoundError(msg)
    return Path(spec.origin).resolve()


def _load_file(path: Path) -> ModuleType:
    if not path.is_file():
        msg = f"no file {path}"
        raise TargetNotFoundError(msg)
    spec = importlib.util.spec_from_file_location(f"{_FILE_PREFIX}{path.stem}", path)
    assert spec is not None  # a .py file always has a spec and a loader
    assert spec.loader is not None
    loader = spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # for dataclasses and pickling in the user's file
    folder = str(path.parent.resolve())  # now: the code may change the working directory
    sys.path.insert(0, folder)  # its own imports, as when run as a script
    try:
        call_user(f"loading {path}", lambda: loader.exec_module(module))
    finally:
        if folder in sys.path:  # the code may have taken it out itself
            sys.path.remove(folder)
    return module


def _import(name: str) -> ModuleType:
    def find() -> bool:
        try:
            return importlib.util.find_spec(name) is not None
        except ModuleNotFoundError as exc:  # a package on the way is missing, or what it imports
            if exc.name is not None and f"{name}.".startswith(f"{exc.name}."):
                return False
            raise

    named = all(part.isidentifier() for part in name.split("."))
    if not (named and call_user(f"import {name}", find)):  # finding runs the packages on the way
        msg = f"no module {name!r} (and no file: a file's name ends in .py)"
        raise TargetNotFoundError(msg)
    module: ModuleType = call_user(f"import {name}", lambda: importlib.import_module(name))
    return module


def search_path() -> list[str]:
    """Where a worker finds a ``package.module`` TARGET: the working folder first, as ``python -m``
    finds it, then the checker's own ``sys.path``.

    Only the worker's: the checker's own process never imports from the working folder (its
    console script does not add it; ``python -P -m`` neither).
    """
    here = str(Path.cwd())
    return [here, *(folder for folder in sys.path if folder not in ("", here))]


def locate(obj: object) -> str:
    """The TARGET under which a worker process finds ``obj`` again: a module, class or function.

    A module by its name, or by its file when it was loaded from one (a script, or a file
    :func:`load_target` loaded); a class or a function as its module's ``:NAME``. ValueError for anything else
    (an instance, a class made in a function): a worker could not import it.
    """
    if isinstance(obj, ModuleType):
        return _module_target(obj)
    module_name = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    module = sys.modules.get(module_name) if isinstance(module_name, str) else None
    named = isinstance(obj, type) or inspect.isfunction(obj)  # d2l's TARGET is a function
    if not (named and module is not None and isinstance(qualname, str)):
        msg = f"a worker process cannot import {obj!r}: give a class, a module or a TARGET string"
        raise ValueError(msg)
    if vars(module).get(qualname) is not obj:
        msg = (
            f"a worker process cannot import {qualname} from {module_name}: it is not a name "
            "of its module (made in a function?)"
        )
        raise ValueError(msg)
    return f"{_module_target(module)}:{qualname}"


def _module_target(module: ModuleType) -> str:
    name = module.__name__
    file = getattr(module, "__file__", None)
    by_file = name == "__main__" or name.startswith(_FILE_PREFIX)
    if not by_file and sys.modules.get(name) is module:
        return name
    if isinstance(file, str) and file.endswith(".py"):
        return str(Path(file).resolve())
    msg = f"a worker process cannot import the module {name}: it has no file and no importable name"
    raise ValueError(msg)
