"""The corpus cut into pieces bounded by documents and by bytes of text, each made into one shard of its own.

A piece ends before the document that would take it past ``documents_per_piece`` documents or
``max_piece_bytes`` bytes of text, whichever comes first: a worker's memory follows a piece's text,
and 5,000 long documents (newspaper articles, book chapters) hold many times the text of 5,000
reviews. A document larger than ``max_piece_bytes`` is a piece on its own.
A piece never spans two input files, so adding a file to a run leaves the earlier files' pieces as
they were. Pieces are numbered in corpus order; task ``t`` of ``n`` (machines of a job array) takes
the pieces ``p`` with ``p % n == t``. A shard is named after its piece alone (``train-00017.tfrecord``),
so tasks never collide and the union of all tasks' shards is exactly what one task would write.
The same name finds the shards of an earlier run again (``shards_on_disk``), to check or remove them.
"""
from __future__ import annotations

import argparse
import contextlib
import glob
import os
import re
from dataclasses import dataclass
from typing import Iterator

from datamodules.common.errors import UserInputError
from datamodules.text.corpus_formats import Corpus, UnsplitDocument

DEFAULT_DOCUMENTS_PER_PIECE = 5000  # a ~35 MB shard of reviews at seq 128, dupe 5: memory stays in the hundreds of MB
# 8 MB (decimal) of UTF-8 text: about 2,000 NYT reviews, more than 5,000 Yelp reviews (~3.5 MB), so the
# document count still cuts pieces of short reviews as before.
DEFAULT_MAX_PIECE_BYTES = 8_000_000


@dataclass
class Piece:
    index: int
    documents: list[UnsplitDocument]


def max_piece_bytes_flag(value: str) -> int | None:
    """A ``--max_piece_bytes`` value: bytes, or ``none`` for no limit (the range is checked with the other flags)."""
    if value.lower() == "none":
        return None
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of bytes or none, got {value!r}") from None


def document_bytes(document: UnsplitDocument) -> int:
    """UTF-8 bytes of a document's text (of a ``sentences`` document's lines, without their line ends)."""
    lines = [document] if isinstance(document, str) else document
    return sum(len(line) if line.isascii() else len(line.encode("utf-8")) for line in lines)


def corpus_pieces(corpus: Corpus, documents_per_piece: int, max_piece_bytes: int | None = None) -> Iterator[Piece]:
    """``max_piece_bytes`` None: no byte limit (how pieces were cut before the limit existed)."""
    index, documents, piece_bytes, current_file = 0, [], 0, None
    for file_index, document in corpus.unsplit_documents():
        size = document_bytes(document)
        if documents and (file_index != current_file or len(documents) == documents_per_piece
                          or (max_piece_bytes is not None and piece_bytes + size > max_piece_bytes)):
            yield Piece(index, documents)
            index, documents, piece_bytes = index + 1, [], 0
        current_file = file_index
        documents.append(document)
        piece_bytes += size
    if documents:
        yield Piece(index, documents)


def is_task_piece(piece_index: int, num_tasks: int, task_index: int) -> bool:
    return piece_index % num_tasks == task_index


def task_pieces(pieces: Iterator[Piece], num_tasks: int, task_index: int) -> Iterator[Piece]:
    return (piece for piece in pieces if is_task_piece(piece.index, num_tasks, task_index))


def _stem_and_suffix(output_file: str) -> tuple[str, str]:
    stem, dot, ext = output_file.rpartition(".")
    if not dot or "/" in ext:
        return output_file, ""
    return stem, f".{ext}" if ext else ""


def piece_shard_path(output_file: str, piece_index: int) -> str:
    """``out.tfrecord`` -> ``out-00017.tfrecord`` for piece 17 (the suffix kept last, for ``out-*.tfrecord`` globs)."""
    stem, suffix = _stem_and_suffix(output_file)
    return f"{stem}-{piece_index:05d}{suffix}"


def shards_on_disk(output_file: str) -> dict[int, str]:
    """Piece index -> data file of every shard under ``output_file``'s name, complete or not, of any run."""
    stem, suffix = _stem_and_suffix(output_file)
    name = re.compile(re.escape(stem) + r"-(\d{5,})" + re.escape(suffix))
    paths = glob.glob(f"{glob.escape(stem)}-*{glob.escape(suffix)}")
    return {int(match[1]): path for path in sorted(paths) if (match := name.fullmatch(path))}


def remove_shard(path: str) -> None:
    """The ``.index`` goes first: from then on the shard counts as incomplete, wherever a kill stops this."""
    for name in (f"{path}.index", path, f"{path}.lengths"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(name)


def shard_is_complete(path: str) -> bool:
    """The writer renames the ``.index`` last, so its presence means the shard and its sidecars are whole."""
    return os.path.isfile(path) and os.path.isfile(f"{path}.index")


def slurm_array_task() -> tuple[int, int]:
    """(num_tasks, task_index) of a SLURM job array (``--array=1-8`` gives tasks 0..7), else (1, 0)."""
    names = ("SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN")
    values = [os.environ.get(name) for name in names]
    if values[0] is None or values[1] is None:
        return 1, 0
    try:
        count, task_id, first = (int(v) for v in (values[0], values[1], values[2] or "0"))
    except ValueError:
        raise UserInputError(f"{', '.join(f'{n}={v}' for n, v in zip(names, values) if v is not None)}: expected "
                             "integers (or give --num_tasks and --task_index)") from None
    return count, task_id - first
