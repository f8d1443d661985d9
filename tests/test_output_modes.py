"""Exported directories are readable as the umask allows (a server may run as another user)."""
import os
import stat
import tempfile

import pytest

from datamodules.common.files import publish_directory
from lightning_modules.inference.hf_export import export_checkpoint
from lightning_modules.inference.onnx_export import export_onnx


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def modes(directory) -> dict[str, int]:
    """Permission bits of ``directory`` ('.') and of everything under it."""
    found = {".": stat.S_IMODE(os.stat(directory).st_mode)}
    for folder, folders, files in os.walk(directory):
        for name in folders + files:
            path = os.path.join(folder, name)
            found[os.path.relpath(path, directory)] = stat.S_IMODE(os.stat(path).st_mode)
    return found


def assert_readable(directory) -> None:
    found = modes(directory)
    wrong = {name: oct(mode) for name, mode in found.items()
             if mode != (0o755 if os.path.isdir(os.path.join(directory, name)) else 0o644)}
    assert len(found) > 2 and wrong == {}


def test_publish_directory_opens_a_private_temporary_folder_as_the_umask_allows(tmp_path, umask_022):
    tmp = tempfile.mkdtemp(dir=tmp_path)  # 0700
    os.makedirs(os.path.join(tmp, "sub"), mode=0o700)
    for name in ("a.bin", "sub/b.json"):
        with os.fdopen(os.open(os.path.join(tmp, name), os.O_CREAT | os.O_WRONLY, 0o600), "w") as f:
            f.write("x")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old").write_text("replaced")
    publish_directory(tmp, str(tmp_path / "out"))
    assert sorted(modes(tmp_path / "out")) == [".", "a.bin", "sub", "sub/b.json"]
    assert_readable(tmp_path / "out")
    os.umask(0o077)  # a stricter umask is kept
    tmp = tempfile.mkdtemp(dir=tmp_path)
    (tmp_path / "x").mkdir()
    publish_directory(tmp, str(tmp_path / "x"))
    assert modes(tmp_path / "x") == {".": 0o700}


def test_hf_and_onnx_exports_are_readable_by_others(tagger_ckpt, tmp_path, umask_022):
    export_checkpoint(str(tagger_ckpt), str(tmp_path / "hf"))
    assert {"model.safetensors", "config.json", "spiece.model", "tagger.json"} <= set(modes(tmp_path / "hf"))
    assert_readable(tmp_path / "hf")
    export_onnx(str(tagger_ckpt), str(tmp_path / "onnx"))
    assert "model.onnx" in modes(tmp_path / "onnx")
    assert_readable(tmp_path / "onnx")
