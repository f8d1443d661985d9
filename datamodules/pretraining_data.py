"""Corpus -> sharded TFRecords of pretraining instances (the create_pretraining_data stage).

Input: google-research/ALBERT's format (one sentence per line, a blank line between documents) or
reviews one per line / CSV row / JSONL object, read by ``corpus_formats``.
Work is cut into fixed chunks of (dupe pass, document) pairs, each with its own seed, so the output
depends on ``random_seed`` only, never on ``num_workers``. Workers serialize the examples; the parent
shuffles them all and deals them round-robin into ``num_shards`` files, each written atomically with
its ``.index``.
"""
from __future__ import annotations

import multiprocessing
import random
import time
from dataclasses import dataclass

from tqdm import tqdm

from datamodules.errors import UserInputError
from datamodules.corpus_formats import DEFAULT_TEXT_COLUMN, Corpus, expand_corpus_files
from datamodules.files import refuse_existing
from datamodules.pretraining_instances import MaskingConfig, SpecialIds, create_instances_from_document
from datamodules.tfrecord_io import instance_to_example, write_tfrecord
from datamodules.tokenization import Tokenizer, load_tokenizer

DOCUMENTS_PER_CHUNK = 64
ENCODE_BATCH_SENTENCES = 8192  # sentences tokenized per call: big enough for speed, small enough to stream


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

    def line(self) -> str:
        return (f"wrote {self.instances} instances from {self.documents} documents, {self.sentences} sentences "
                f"({self.duplicates} duplicate documents dropped, {self.empty} empty skipped; {self.tokens} tokens, "
                f"{self.masked_tokens / max(self.tokens, 1):.1%} masked, "
                f"SOP label 1: {self.sop_swapped_or_random / max(self.instances, 1):.1%}) "
                f"to {len(self.output_files)} file(s) in {self.seconds:.1f} s")


def shard_paths(output_file: str, num_shards: int) -> list[str]:
    """``out.tfrecord`` for one shard, else ``out-00000-of-00004.tfrecord`` ... (the suffix kept last)."""
    if num_shards == 1:
        return [output_file]
    stem, dot, ext = output_file.rpartition(".")
    if not dot or "/" in ext:
        stem, ext = output_file, ""
    suffix = f".{ext}" if ext else ""
    return [f"{stem}-{i:05d}-of-{num_shards:05d}{suffix}" for i in range(num_shards)]


def read_documents(corpus: Corpus, tokenizer: Tokenizer) -> list[list[list[int]]]:
    """Token-id documents: lists of non-empty segments (a sentence with no tokens is left out)."""
    documents: list[list[list[int]]] = []
    pending: list[list[str]] = []

    def encode_pending() -> None:
        ids = iter(tokenizer.encode_lines([s for document in pending for s in document]))
        for document in pending:
            segments = [segment for segment in (next(ids) for _ in document) if segment]
            if segments:
                documents.append(segments)
        pending.clear()

    waiting = 0
    for document in corpus.documents():
        pending.append(document)
        waiting += len(document)
        if waiting >= ENCODE_BATCH_SENTENCES:
            encode_pending()
            waiting = 0
    if pending:
        encode_pending()
    return documents


# Set in the parent before the pool forks, so workers share the documents without pickling them.
_WORKER_STATE: dict = {}


def _chunk_examples(chunk: tuple[int, list[int]]) -> tuple[list[bytes], int, int, int]:
    seed, document_indexes = chunk
    state = _WORKER_STATE
    cfg: MaskingConfig = state["cfg"]
    rng = random.Random(seed)
    examples, tokens, masked, sop = [], 0, 0, 0
    for d in document_indexes:
        for inst in create_instances_from_document(state["documents"], d, cfg, state["special"], state["starts"], rng):
            examples.append(instance_to_example(inst, cfg.max_seq_length, cfg.max_predictions_per_seq))
            tokens += len(inst.input_ids)
            masked += len(inst.masked_lm_positions)
            sop += inst.is_random_next
    return examples, tokens, masked, sop


def validate_flags(cfg: MaskingConfig, dupe_factor: int, num_workers: int, num_shards: int) -> None:
    checks = [
        (cfg.max_seq_length >= 5, f"max_seq_length must be >= 5 ([CLS] A [SEP] B [SEP]), got {cfg.max_seq_length}"),
        (cfg.max_predictions_per_seq >= 1, f"max_predictions_per_seq must be >= 1, got {cfg.max_predictions_per_seq}"),
        (0.0 < cfg.masked_lm_prob < 1.0, f"masked_lm_prob must be in (0, 1), got {cfg.masked_lm_prob}"),
        (0.0 <= cfg.short_seq_prob <= 1.0, f"short_seq_prob must be in [0, 1], got {cfg.short_seq_prob}"),
        (cfg.ngram >= 1, f"ngram must be >= 1, got {cfg.ngram}"),
        (dupe_factor >= 1, f"dupe_factor must be >= 1, got {dupe_factor}"),
        (num_workers >= 1, f"num_workers must be >= 1, got {num_workers}"),
        (num_shards >= 1, f"num_shards must be >= 1, got {num_shards}"),
    ]
    for ok, message in checks:
        if not ok:
            raise UserInputError(message)


def create_pretraining_data(
    input_file: str | list[str],
    output_file: str,
    tokenizer_file: str,
    cfg: MaskingConfig = MaskingConfig(),
    do_lower_case: bool = True,
    dupe_factor: int = 10,
    random_seed: int = 12345,
    num_workers: int = 1,
    num_shards: int = 1,
    overwrite: bool = False,
    progress: bool = True,
    input_format: str = "sentences",
    text_column: str = DEFAULT_TEXT_COLUMN,
) -> DataSummary:
    """``input_format`` is the default for globs without a ``FORMAT:`` prefix (see ``corpus_formats``)."""
    start = time.perf_counter()
    validate_flags(cfg, dupe_factor, num_workers, num_shards)
    files = expand_corpus_files(input_file, input_format, "input_file")
    outputs = shard_paths(output_file, num_shards)
    refuse_existing(outputs + [f"{o}.index" for o in outputs], overwrite)
    tokenizer = load_tokenizer(tokenizer_file, do_lower_case)

    corpus = Corpus(files, text_column)
    documents = read_documents(corpus, tokenizer)
    if not documents:
        raise UserInputError(f"input_file {', '.join(f.path for f in files)}: no text (empty corpus)")
    rng = random.Random(random_seed)
    rng.shuffle(documents)

    work = [(d, i) for d in range(dupe_factor) for i in range(len(documents))]
    chunks = [(rng.getrandbits(63), [i for _, i in work[s:s + DOCUMENTS_PER_CHUNK]])
              for s in range(0, len(work), DOCUMENTS_PER_CHUNK)]
    _WORKER_STATE.update(
        documents=documents, cfg=cfg, starts=tokenizer.is_start_piece,
        special=SpecialIds(tokenizer.cls_id, tokenizer.sep_id, tokenizer.mask_id, tokenizer.vocab_size),
    )
    summary = DataSummary(documents=len(documents), sentences=sum(map(len, documents)),
                          duplicates=corpus.counts.duplicates, empty=corpus.counts.empty, output_files=tuple(outputs))
    examples: list[bytes] = []
    bar = tqdm(total=len(work), unit="doc", desc="instances", disable=not progress or None)
    try:
        if num_workers == 1:
            results = map(_chunk_examples, chunks)
            pool = None
        else:
            pool = multiprocessing.get_context("fork").Pool(num_workers)
            results = pool.imap(_chunk_examples, chunks)
        for (seed, docs), (chunk, tokens, masked, sop) in zip(chunks, results):
            examples.extend(chunk)
            summary.tokens += tokens
            summary.masked_tokens += masked
            summary.sop_swapped_or_random += sop
            bar.update(len(docs))
    finally:
        bar.close()
        _WORKER_STATE.clear()
        if num_workers > 1:
            pool.close()
            pool.join()

    rng.shuffle(examples)
    for shard, path in enumerate(outputs):
        write_tfrecord(path, examples[shard::num_shards])
    summary.instances = len(examples)
    summary.seconds = time.perf_counter() - start
    return summary
