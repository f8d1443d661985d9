"""File helpers shared by the stages: input globs, refusing to clobber outputs, atomic writes."""
from __future__ import annotations

import glob
import os
import shutil
import socket
from typing import Iterable

from datamodules.common.errors import UserInputError


def expand_input_files(patterns: str | Iterable[str], what: str = "input file") -> list[str]:
    """Expand comma-separated and/or listed globs (google-research/ALBERT's ``--input_file`` syntax).

    Every pattern must match at least one file; the result is sorted within each pattern and
    de-duplicated, so the file order (and hence the data order) does not depend on the filesystem.
    """
    if isinstance(patterns, str):
        patterns = [patterns]
    files: list[str] = []
    for pattern in (p.strip() for item in patterns for p in str(item).split(",")):
        if not pattern:
            continue
        matches = sorted(glob.glob(os.path.expanduser(pattern)))
        matches = [m for m in matches if os.path.isfile(m)]
        if not matches:
            raise UserInputError(f"{what} {pattern!r} matches no file")
        files.extend(m for m in matches if m not in files)
    if not files:
        raise UserInputError(f"no {what} given")
    return files


def refuse_existing(paths: Iterable[str], overwrite: bool) -> None:
    """Raise if an output exists and ``--overwrite`` was not given: never clobber a user's file silently."""
    existing = [p for p in paths if os.path.exists(p)]
    if existing and not overwrite:
        raise UserInputError(f"output file {existing[0]} exists (pass --overwrite to replace it)")


def atomic_write_bytes(path: str, data: bytes) -> None:
    """Write to a temporary file beside ``path``, then rename: readers never see half a file."""
    tmp = f"{path}.tmp-{socket.gethostname()}-{os.getpid()}"  # the host too: tasks on two machines may race
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def current_umask() -> int:
    """The process's umask (os has no getter: set and restore it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def publish_directory(tmp: str, output_dir: str) -> None:
    """Move a directory written under a temporary name (``tempfile.mkdtemp``: mode 0700) to ``output_dir``,
    replacing what was there, with every file and folder readable as the umask allows (0644/0755 under 022):
    a server running as another user must be able to read an export."""
    mask = current_umask()
    for folder, _, files in os.walk(tmp):
        os.chmod(folder, 0o777 & ~mask)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o666 & ~mask)
    if os.path.exists(output_dir):
        shutil.rmtree(output_dir)
    os.replace(tmp, output_dir)
