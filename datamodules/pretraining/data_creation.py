"""Corpus -> TFRecord shards of pretraining instances, streamed in bounded pieces (the create_pretraining_data stage).

Input: google-research/ALBERT's format (one sentence per line, a blank line between documents) or
reviews one per line / CSV row / JSONL object, read by ``corpus_formats`` as a stream.
The stream is cut into pieces of at most ``documents_per_piece`` documents and ``max_piece_bytes`` bytes
of text (``corpus_pieces``). A worker makes one piece into one shard: it splits and tokenizes the
piece's documents, shuffles them, makes ``dupe_factor`` passes of instances (the random document of a
one-segment chunk's SOP negative comes from the same piece), which wait in a temporary file beside
the shard, and writes them shuffled to ``<stem>-<piece>.tfrecord`` with its ``.lengths`` and
``.index`` (temporary files renamed, the index last). Memory is bounded by a piece's text (its
tokens, not its instances) times the pieces in flight (two per worker), never by the corpus: the
reader shuffles all records of all shards every epoch, so no global shuffle is needed here. Each
piece draws from its own seed, made from (``random_seed``, piece index), so the output depends on
the seed and the piece layout only, never on ``num_workers`` or ``num_tasks``.

Task ``task_index`` of ``num_tasks`` makes only its own pieces; it still reads the whole stream, which
costs little beside tokenizing and lets the duplicate filter see every document as one run would.
A rerun skips shards already complete, so a killed task is resumed by running it again; it stops if
the settings recorded beside the shards (``settings_manifest``) differ from its own. ``--overwrite``
first removes the task's old shards, then makes them again.
"""
from __future__ import annotations

import collections
import dataclasses
import glob
import hashlib
import multiprocessing
import os
import random
import time
from array import array
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

import numpy as np
from tqdm import tqdm

from datamodules.common.errors import UserInputError
from datamodules.pretraining.corpus_pieces import (
    DEFAULT_DOCUMENTS_PER_PIECE,
    DEFAULT_MAX_PIECE_BYTES,
    Piece,
    corpus_pieces,
    is_task_piece,
    piece_shard_path,
    remove_shard,
    shard_is_complete,
    shards_on_disk,
    task_pieces,
)
from datamodules.pretraining.instances import MaskingConfig, SpecialIds, create_instances_from_document
from datamodules.pretraining.random_draws import shuffled_range
from datamodules.pretraining.settings_manifest import check_settings, write_settings
from datamodules.pretraining.tfrecord_io import instance_to_example, write_tfrecord
from datamodules.text.corpus_formats import DEFAULT_TEXT_COLUMN, Corpus, CorpusFile, expand_corpus_files, split_document
from datamodules.text.tokenization import Tokenizer, load_tokenizer

PIECES_IN_FLIGHT_PER_WORKER = 2  # one being made, one waiting: workers never idle, memory stays bounded


@dataclass
class DataSummary:
    documents: int = 0
    sentences: int = 0
    duplicates: int = 0
    empty: int = 0
    instances: int = 0
    tokens: int = 0
    masked_tokens: int = 0
    sop_swapped_or_random: int = 0
    seconds: float = 0.0
    output_files: tuple[str, ...] = ()
    skipped_files: tuple[str, ...] = ()  # complete shards of an earlier run, left as they were

    def add(self, piece: "DataSummary") -> None:
        for name in ("documents", "sentences", "instances", "tokens", "masked_tokens", "sop_swapped_or_random"):
            setattr(self, name, getattr(self, name) + getattr(piece, name))
        self.output_files += piece.output_files

    def line(self) -> str:
        skipped = f", {len(self.skipped_files)} complete file(s) skipped" if self.skipped_files else ""
        return (f"wrote {self.instances} instances from {self.documents} documents, {self.sentences} sentences "
                f"({self.duplicates} duplicate documents dropped, {self.empty} empty skipped; {self.tokens} tokens, "
                f"{self.masked_tokens / max(self.tokens, 1):.1%} masked, "
                f"SOP label 1: {self.sop_swapped_or_random / max(self.instances, 1):.1%}) "
                f"to {len(self.output_files)} file(s){skipped} in {self.seconds:.1f} s")


def tokenize_documents(documents: list[list[str]], tokenizer: Tokenizer) -> list[list[list[int]]]:
    """Token-id documents: lists of non-empty segments (a sentence with no tokens is left out)."""
    ids = iter(tokenizer.encode_lines([s for document in documents for s in document]))
    tokenized = ([segment for segment in (next(ids) for _ in document) if segment] for document in documents)
    return [document for document in tokenized if document]


# Set in the parent before the pool forks, so workers share the tokenizer and settings without pickling.
_WORKER_STATE: dict = {}


def make_piece_shard(piece: Piece) -> DataSummary:
    """Tokenize one piece, make its instances and write them, shuffled, to the piece's shard."""
    state = _WORKER_STATE
    rng = random.Random(f"{state['random_seed']}:{piece.index}")  # str seeds hash the same in every process
    documents = tokenize_documents([split_document(d) for d in piece.documents], state["tokenizer"])
    rng.shuffle(documents)
    summary = DataSummary(documents=len(documents), sentences=sum(map(len, documents)))
    path = piece_shard_path(state["output_file"], piece.index)
    for stale in glob.glob(glob.escape(path) + "*.tmp-*"):  # left by a killed run
        os.remove(stale)
    summary.instances = write_shuffled_shard(path, piece_records(documents, summary, rng), rng)
    if summary.instances:  # an empty shard would stop the reader; the piece is made again (quickly) by a rerun
        summary.output_files = (path,)
    return summary


def piece_records(documents: list[list[list[int]]], summary: DataSummary,
                  rng: random.Random) -> Iterator[tuple[bytes, int]]:
    """(serialized example, real tokens) of every instance of ``dupe_factor`` passes, counted in ``summary``."""
    state = _WORKER_STATE
    cfg: MaskingConfig = state["cfg"]
    for _ in range(state["dupe_factor"]):
        for d in range(len(documents)):
            for inst in create_instances_from_document(documents, d, cfg, state["special"], state["starts"], rng):
                summary.tokens += len(inst.input_ids)
                summary.masked_tokens += len(inst.masked_lm_positions)
                summary.sop_swapped_or_random += inst.is_random_next
                yield instance_to_example(inst, cfg.max_seq_length, cfg.max_predictions_per_seq), len(inst.input_ids)


def write_shuffled_shard(path: str, records: Iterable[tuple[bytes, int]], rng: random.Random) -> int:
    """Write ``records`` to the shard ``path`` in the order ``rng.shuffle`` would give their list; none: no shard.

    They wait in a temporary file beside the shard, not in memory (a piece's instances are ``dupe_factor``
    times its tokens, several hundred MB at dupe 40): memory holds 10 bytes a record. Return the count.
    """
    spill = f"{path}.unshuffled.tmp-{os.getpid()}"
    ends, real_lengths = array("Q", [0]), array("H")
    try:
        with open(spill, "w+b") as f:
            for data, length in records:
                f.write(data)
                ends.append(ends[-1] + len(data))
                real_lengths.append(length)
            f.flush()
            order = shuffled_range(len(real_lengths), rng)  # the draws of rng.shuffle on a list this long
            if order:
                fd = f.fileno()
                write_tfrecord(path, (os.pread(fd, ends[i + 1] - ends[i], ends[i]) for i in order),
                               np.frombuffer(real_lengths, dtype=np.uint16)[order])
    finally:
        os.remove(spill)
    return len(real_lengths)


def imap_bounded(func: Callable, items: Iterable, num_workers: int) -> Iterator:
    """``func`` over ``items`` in order, in ``num_workers`` forked processes, with at most
    PIECES_IN_FLIGHT_PER_WORKER items per worker taken from ``items`` at a time (``Pool.imap`` would
    read all of them ahead: the whole corpus)."""
    if num_workers == 1:
        yield from map(func, items)
        return
    with multiprocessing.get_context("fork").Pool(num_workers) as pool:
        pending: collections.deque = collections.deque()
        for item in items:
            pending.append(pool.apply_async(func, (item,)))
            if len(pending) >= num_workers * PIECES_IN_FLIGHT_PER_WORKER:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


def validate_flags(cfg: MaskingConfig, dupe_factor: int, num_workers: int, documents_per_piece: int,
                   max_piece_bytes: int | None, num_tasks: int, task_index: int) -> None:
    checks = [
        (cfg.max_seq_length >= 5, f"max_seq_length must be >= 5 ([CLS] A [SEP] B [SEP]), got {cfg.max_seq_length}"),
        (cfg.max_predictions_per_seq >= 1, f"max_predictions_per_seq must be >= 1, got {cfg.max_predictions_per_seq}"),
        (0.0 < cfg.masked_lm_prob < 1.0, f"masked_lm_prob must be in (0, 1), got {cfg.masked_lm_prob}"),
        (0.0 <= cfg.short_seq_prob <= 1.0, f"short_seq_prob must be in [0, 1], got {cfg.short_seq_prob}"),
        (cfg.ngram >= 1, f"ngram must be >= 1, got {cfg.ngram}"),
        (dupe_factor >= 1, f"dupe_factor must be >= 1, got {dupe_factor}"),
        (num_workers >= 1, f"num_workers must be >= 1, got {num_workers}"),
        (documents_per_piece >= 2, f"documents_per_piece must be >= 2 (SOP negatives come from another document "
                                   f"of the piece), got {documents_per_piece}"),
        (max_piece_bytes is None or max_piece_bytes >= 1,
         f"max_piece_bytes must be >= 1 (bytes of text per piece), got {max_piece_bytes}"),
        (num_tasks >= 1, f"num_tasks must be >= 1, got {num_tasks}"),
        (0 <= task_index < num_tasks, f"task_index must be in 0..{num_tasks - 1} (num_tasks {num_tasks}), "
                                      f"got {task_index}"),
    ]
    for ok, message in checks:
        if not ok:
            raise UserInputError(message)


def shard_settings(files: list[CorpusFile], text_column: str, tokenizer_file: str, do_lower_case: bool,
                   cfg: MaskingConfig, dupe_factor: int, random_seed: int, documents_per_piece: int,
                   max_piece_bytes: int | None) -> dict:
    """Every setting that changes a shard's bytes, in the order a difference is reported."""
    with open(tokenizer_file, "rb") as f:
        tokenizer_sha256 = hashlib.file_digest(f, "sha256").hexdigest()
    return {
        "random_seed": random_seed,
        "dupe_factor": dupe_factor,
        **dataclasses.asdict(cfg),
        "do_lower_case": do_lower_case,
        # Names, not paths: the same files moved, or mounted elsewhere on another machine of the job, still match.
        "tokenizer_file": os.path.basename(tokenizer_file),
        "tokenizer_sha256": tokenizer_sha256,
        "documents_per_piece": documents_per_piece,
        "max_piece_bytes": max_piece_bytes,  # null: no byte limit
        "text_column": text_column,
        # A file's size stands in for its content, which would take a pass over the corpus to hash.
        "input_files": [{"name": os.path.basename(f.path), "format": f.format, "bytes": os.path.getsize(f.path)}
                        for f in files],
    }


def create_pretraining_data(
    input_file: str | list[str],
    output_file: str,
    tokenizer_file: str,
    cfg: MaskingConfig = MaskingConfig(),
    do_lower_case: bool = True,
    dupe_factor: int = 10,
    random_seed: int = 12345,
    num_workers: int = 1,
    documents_per_piece: int = DEFAULT_DOCUMENTS_PER_PIECE,
    max_piece_bytes: int | None = DEFAULT_MAX_PIECE_BYTES,
    num_tasks: int = 1,
    task_index: int = 0,
    overwrite: bool = False,
    progress: bool = True,
    input_format: str = "sentences",
    text_column: str = DEFAULT_TEXT_COLUMN,
) -> DataSummary:
    """Write this task's shards ``<output_file stem>-<piece>.<suffix>``; ``input_format`` is the default for
    globs without a ``FORMAT:`` prefix (see ``corpus_formats``); ``max_piece_bytes`` None: no byte limit."""
    start = time.perf_counter()
    validate_flags(cfg, dupe_factor, num_workers, documents_per_piece, max_piece_bytes, num_tasks, task_index)
    files = expand_corpus_files(input_file, input_format, "input_file")
    tokenizer = load_tokenizer(tokenizer_file, do_lower_case)
    settings = shard_settings(files, text_column, tokenizer_file, do_lower_case, cfg, dupe_factor, random_seed,
                              documents_per_piece, max_piece_bytes)
    # Removed first, so that a killed --overwrite run leaves none of the old shards to be skipped as done by
    # a rerun, nor any past the new run's last piece (the reader's glob would take them).
    if overwrite:
        for index, path in shards_on_disk(output_file).items():
            if is_task_piece(index, num_tasks, task_index):
                remove_shard(path)
    else:
        check_settings(output_file, settings)
    corpus = Corpus(files, text_column)
    summary = DataSummary()

    def pieces_to_make() -> Iterator[Piece]:
        settings_written = False
        for piece in task_pieces(corpus_pieces(corpus, documents_per_piece, max_piece_bytes), num_tasks, task_index):
            path = piece_shard_path(output_file, piece.index)
            if shard_is_complete(path):
                summary.skipped_files += (path,)
                continue
            if not settings_written:  # before the first shard: a run that writes none leaves no manifest
                write_settings(output_file, settings)
                settings_written = True
            yield piece

    _WORKER_STATE.update(
        tokenizer=tokenizer, cfg=cfg, starts=tokenizer.is_start_piece, dupe_factor=dupe_factor,
        random_seed=random_seed, output_file=output_file,
        special=SpecialIds(tokenizer.cls_id, tokenizer.sep_id, tokenizer.mask_id, tokenizer.vocab_size),
    )
    bar = tqdm(unit="doc", desc="documents", disable=not progress or None)
    try:
        for piece_summary in imap_bounded(make_piece_shard, pieces_to_make(), num_workers):
            summary.add(piece_summary)
            bar.update(piece_summary.documents)
    finally:
        bar.close()
        _WORKER_STATE.clear()
    if corpus.counts.documents == 0:
        raise UserInputError(f"input_file {', '.join(f.path for f in files)}: no text (empty corpus)")
    summary.duplicates, summary.empty = corpus.counts.duplicates, corpus.counts.empty
    summary.seconds = time.perf_counter() - start
    return summary
