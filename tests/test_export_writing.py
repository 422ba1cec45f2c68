"""How ``export`` writes: never through a link out of DIR, each file whole or not at all, and a
file-system error as one line on stderr with exit status 1. Each case is done, not mocked, where
the machine allows it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reference_rnn.cli import main
from reference_rnn.export import command as export

ONE = ["--only", "step-tanh-sample", "--dtype", "float64"]
WRITTEN = ["README.md", "index.json", "index.txt", "step-tanh-sample.float64.npz"]


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_an_empty_path_is_refused_and_nothing_is_written(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit:
        main(["export", ""])
    assert exit.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "reference-rnn export: error: argument DIR: DIR must name a folder, got an empty path"
    )
    assert listing(tmp_path) == []


@pytest.mark.parametrize("name", ["index.json", "step-tanh-sample.float64.npz", "README.md"])
def test_a_symlink_in_the_folder_is_not_followed(tmp_path, capsys, name):
    outside = tmp_path / "precious.txt"
    outside.write_text("keep me\n", encoding="utf-8")
    folder = tmp_path / "cases"
    folder.mkdir()
    (folder / name).symlink_to(outside)
    assert main(["export", str(folder), *ONE]) == 1
    assert capsys.readouterr().err == (
        f"reference-rnn export: cannot write {folder / name}: a symbolic link: export does not "
        "follow links\n"
    )
    assert outside.read_text(encoding="utf-8") == "keep me\n"
    assert listing(folder) == [name]  # refused before anything was written
    assert (folder / name).is_symlink()


def test_a_dangling_symlink_does_not_create_its_target(tmp_path, capsys):
    folder = tmp_path / "cases"
    folder.mkdir()
    (folder / "index.txt").symlink_to(tmp_path / "elsewhere" / "new.txt")
    assert main(["export", str(folder), *ONE]) == 1
    assert "index.txt: a symbolic link" in capsys.readouterr().err
    assert not (tmp_path / "elsewhere").exists()


def test_a_file_is_replaced_by_rename_not_written_through(tmp_path):
    """A hard link to the old index.json keeps the old bytes: the name got a new file."""
    folder = tmp_path / "cases"
    folder.mkdir()
    old = tmp_path / "old-index.json"
    old.write_text("{}\n", encoding="utf-8")
    os.link(old, folder / "index.json")
    assert main(["export", str(folder), *ONE]) == 0
    assert old.read_text(encoding="utf-8") == "{}\n"
    assert json.loads((folder / "index.json").read_text(encoding="utf-8"))["format_version"] == 2
    assert listing(folder) == WRITTEN  # no temporary file left
    assert (folder / "index.json").stat().st_mode & 0o777 == 0o644


def test_a_target_that_is_a_file_is_one_line_and_exit_1(tmp_path, capsys):
    target = tmp_path / "cases"
    target.write_text("not a folder\n", encoding="utf-8")
    assert main(["export", str(target), *ONE]) == 1
    assert capsys.readouterr().err == (
        f"reference-rnn export: cannot write {target}: not a directory\n"
    )
    assert target.read_text(encoding="utf-8") == "not a folder\n"


def test_a_target_under_a_file_is_one_line_and_exit_1(tmp_path, capsys):
    (tmp_path / "file").write_text("", encoding="utf-8")
    target = tmp_path / "file" / "cases"
    assert main(["export", str(target), *ONE]) == 1
    assert capsys.readouterr().err == (
        f"reference-rnn export: cannot write {target}: Not a directory\n"
    )


def test_a_folder_in_the_way_of_a_file_leaves_no_temporary_file(tmp_path, capsys):
    folder = tmp_path / "cases"
    (folder / "index.txt").mkdir(parents=True)
    assert main(["export", str(folder), *ONE]) == 1
    assert capsys.readouterr().err == (
        f"reference-rnn export: cannot write {folder / 'index.txt'}: Is a directory\n"
    )
    # the case file and index.json were written whole before; index.txt's temporary is gone
    assert listing(folder) == ["index.json", "index.txt", "step-tanh-sample.float64.npz"]


#: root passes permission checks: it runs the command without its capabilities (setpriv)
AS_A_USER = ["setpriv", "--inh-caps=-all", "--bounding-set=-all"] if os.geteuid() == 0 else []


@pytest.mark.skipif(
    bool(AS_A_USER) and shutil.which("setpriv") is None,
    reason="running as root without setpriv: a read-only folder cannot refuse root",
)
def test_an_unwritable_folder_is_one_line_and_exit_1(tmp_path):
    folder = tmp_path / "cases"
    folder.mkdir(mode=0o555)
    try:
        done = subprocess.run(
            [*AS_A_USER, sys.executable, "-m", "reference_rnn", "export", str(folder), *ONE],
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        folder.chmod(0o755)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == (
        f"reference-rnn export: cannot write {folder / 'step-tanh-sample.float64.npz'}: "
        "Permission denied\n"
    )
    assert listing(folder) == []


def test_a_permission_error_at_the_rename_is_one_line_and_leaves_nothing(
    tmp_path, monkeypatch, capsys
):
    folder = tmp_path / "cases"

    def refused(self: Path, target: Path) -> Path:
        raise PermissionError(13, "Permission denied", str(self), None, str(target))

    monkeypatch.setattr(Path, "replace", refused)
    assert main(["export", str(folder), *ONE]) == 1
    assert capsys.readouterr().err == (
        f"reference-rnn export: cannot write {folder / 'step-tanh-sample.float64.npz'}: "
        "Permission denied\n"
    )
    assert listing(folder) == []


def test_repeated_dtypes_are_written_once(tmp_path, capsys):
    argv = ["export", str(tmp_path), "--dtype", "float32", "--dtype", "float32"]
    assert main(argv) == 0
    assert "(float32)," in capsys.readouterr().out
    index = json.loads((tmp_path / "index.json").read_text(encoding="utf-8"))
    names = [entry["file"] for entry in index["cases"]]
    assert len(names) == len(set(names)) == 66
    assert index["dtypes"] == ["float32"]


def test_write_from_python_returns_the_index(tmp_path):
    path = export.write(tmp_path / "a" / "b", ("float64", "float64"), seed=3, only=["stateful-*"])
    assert path == tmp_path / "a" / "b" / "index.json"
    index = json.loads(path.read_text(encoding="utf-8"))
    assert [entry["name"] for entry in index["cases"]] == ["stateful-tanh", "stateful-relu"]
    assert index["seed"] == 3


def test_a_temporary_file_that_cannot_be_made_is_named_by_its_file(tmp_path, monkeypatch, capsys):
    def refused(**_: object) -> tuple[int, str]:
        raise PermissionError(13, "Permission denied", str(tmp_path / ".index.json.x.tmp"))

    monkeypatch.setattr(export.tempfile, "mkstemp", refused)
    assert main(["export", str(tmp_path), *ONE]) == 1
    assert capsys.readouterr().err == (
        f"reference-rnn export: cannot write {tmp_path / 'step-tanh-sample.float64.npz'}: "
        "Permission denied\n"
    )


def test_an_earlier_export_s_case_files_are_replaced_by_the_new_one_s(tmp_path):
    folder = tmp_path / "cases"
    assert main(["export", str(folder), "--only", "step-tanh-*", "--dtype", "float64"]) == 0
    earlier = set(listing(folder))
    assert "step-tanh-one-step.float64.npz" in earlier
    (folder / "notes.txt").write_text("mine", encoding="utf-8")  # not the export's: left
    assert main(["export", str(folder), *ONE]) == 0
    assert listing(folder) == sorted([*WRITTEN, "notes.txt"])
    index = json.loads((folder / "index.json").read_text(encoding="utf-8"))
    assert [case["file"] for case in index["cases"]] == ["step-tanh-sample.float64.npz"]


@pytest.mark.parametrize(
    "listed",
    [
        ["../outside.npz", "/tmp/abs.npz", "sub/inner.npz", "..", ""],
        "not a list",
    ],
    ids=["paths out of the folder", "a malformed list"],
)
def test_an_index_lists_only_plain_names_in_the_folder_for_removal(tmp_path, listed):
    folder = tmp_path / "cases"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "inner.npz").write_bytes(b"kept")
    (tmp_path / "outside.npz").write_bytes(b"kept")
    cases = [{"file": name} for name in listed] if isinstance(listed, list) else listed
    index = {"format": "reference_rnn portable cases", "cases": cases}
    (folder / "index.json").write_text(json.dumps(index), encoding="utf-8")
    assert main(["export", str(folder), *ONE]) == 0
    assert (folder / "sub" / "inner.npz").read_bytes() == b"kept"
    assert (tmp_path / "outside.npz").read_bytes() == b"kept"


def test_a_file_listed_by_another_format_s_index_is_left(tmp_path):
    folder = tmp_path / "cases"
    folder.mkdir()
    (folder / "data.npz").write_bytes(b"theirs")
    index = {"format": "someone else's", "cases": [{"file": "data.npz"}]}
    (folder / "index.json").write_text(json.dumps(index), encoding="utf-8")
    assert main(["export", str(folder), *ONE]) == 0
    assert (folder / "data.npz").read_bytes() == b"theirs"


def test_a_step_case_says_its_own_sizes_and_no_t(tmp_path):
    index = json.loads(export.write(tmp_path / "cases", ("float64",)).read_text(encoding="utf-8"))
    steps = [case for case in index["cases"] if case["kind"] == "step"]
    assert steps
    for case in steps:
        sizes = case["sizes"]
        assert "T=" not in case["about"]
        assert case["about"].startswith(
            f"one step (N={sizes['N']}, D={sizes['D']}, H={sizes['H']})"
        )
