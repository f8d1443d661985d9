"""Pretraining instances as google-research/ALBERT's create_pretraining_data.py makes them.

Documents are lists of segments (sentences), each a list of token ids. From each document we cut
chunks up to a target length, split each chunk into segments A and B and build
``[CLS] A [SEP] B [SEP]`` with the sentence-order (SOP) label:
0 = A then B in the original order; 1 = swapped, or B taken from a random other document (the latter
whenever the chunk has one segment, as in Google's script). Then whole-word n-gram masking: up to
``max_predictions_per_seq`` tokens (15% of the sequence), n-gram length n in 1..ngram drawn with
p(n) proportional to 1/n, each masked token replaced by [MASK] 80%, kept 10%, a random id 10%.

Unlike Google's script every random draw comes from one seeded ``random.Random``, so a seed fixes
the output (Google draws n with an unseeded ``np.random.choice``).
"""
from __future__ import annotations

import bisect
import functools
import random
from dataclasses import dataclass

import numpy as np

from datamodules.pretraining.random_draws import shuffled_range


@dataclass(frozen=True)
class MaskingConfig:
    max_seq_length: int = 512
    max_predictions_per_seq: int = 20
    masked_lm_prob: float = 0.15
    short_seq_prob: float = 0.1
    ngram: int = 3
    favor_shorter_ngram: bool = True
    do_whole_word_mask: bool = True


@dataclass
class Instance:
    input_ids: list[int]
    segment_ids: list[int]
    token_boundary: list[int]
    masked_lm_positions: list[int]
    masked_lm_ids: list[int]
    is_random_next: bool


@dataclass(frozen=True)
class SpecialIds:
    cls: int
    sep: int
    mask: int
    vocab_size: int


def ngram_probabilities(ngram: int, favor_shorter: bool = True) -> np.ndarray:
    """p(n) for n = 1..ngram: proportional to 1/n (Google's favor_shorter_ngram), else reversed."""
    p = 1.0 / np.arange(1, ngram + 1)
    p /= p.sum()
    return p if favor_shorter else p[::-1].copy()


def create_instances_from_document(
    documents: list[list[list[int]]],
    document_index: int,
    cfg: MaskingConfig,
    special: SpecialIds,
    is_start_piece: np.ndarray,
    rng: random.Random,
) -> list[Instance]:
    """All instances one pass over ``documents[document_index]`` yields (Google's function of the same name)."""
    document = documents[document_index]
    max_num_tokens = cfg.max_seq_length - 3
    target_seq_length = max_num_tokens
    if rng.random() < cfg.short_seq_prob:
        target_seq_length = rng.randint(2, max_num_tokens)

    instances = []
    current_chunk: list[list[int]] = []
    current_length = 0
    i = 0
    while i < len(document):
        segment = document[i]
        current_chunk.append(segment)
        current_length += len(segment)
        if i == len(document) - 1 or current_length >= target_seq_length:
            a_end = rng.randint(1, len(current_chunk) - 1) if len(current_chunk) >= 2 else 1
            tokens_a = [t for seg in current_chunk[:a_end] for t in seg]
            if len(current_chunk) == 1:
                # One segment: B comes from another document, labelled as "not in order" (1).
                is_random_next = True
                tokens_b = _random_continuation(documents, document_index, target_seq_length - len(tokens_a), rng)
            else:
                tokens_b = [t for seg in current_chunk[a_end:] for t in seg]
                is_random_next = rng.random() < 0.5
                if is_random_next:
                    tokens_a, tokens_b = tokens_b, tokens_a
            _truncate_seq_pair(tokens_a, tokens_b, max_num_tokens, rng)
            if tokens_a and tokens_b:
                input_ids = [special.cls, *tokens_a, special.sep, *tokens_b, special.sep]
                segment_ids = [0] * (len(tokens_a) + 2) + [1] * (len(tokens_b) + 1)
                instances.append(_mask(input_ids, segment_ids, is_random_next, cfg, special, is_start_piece, rng))
            current_chunk = []
            current_length = 0
        i += 1
    return instances


def _random_continuation(documents, document_index, target_length, rng) -> list[int]:
    random_index = document_index
    for _ in range(10):
        random_index = rng.randint(0, len(documents) - 1)
        if random_index != document_index:
            break
    random_document = documents[random_index]
    tokens_b: list[int] = []
    for segment in random_document[rng.randint(0, len(random_document) - 1):]:
        tokens_b.extend(segment)
        if len(tokens_b) >= target_length:
            break
    return tokens_b


def _truncate_seq_pair(tokens_a: list[int], tokens_b: list[int], max_num_tokens: int, rng: random.Random) -> None:
    """Trim the longer segment, from the front or back at random, until the pair fits."""
    while len(tokens_a) + len(tokens_b) > max_num_tokens:
        trunc = tokens_a if len(tokens_a) > len(tokens_b) else tokens_b
        if rng.random() < 0.5:
            del trunc[0]
        else:
            trunc.pop()


def _mask(input_ids, segment_ids, is_random_next, cfg, special, is_start_piece, rng) -> Instance:
    ids = np.asarray(input_ids)
    is_special = (ids == special.cls) | (ids == special.sep)
    starts = is_start_piece[ids]
    token_boundary = (starts | is_special).astype(np.int64).tolist()
    # Candidate positions grouped into whole words: a word starts at a start piece, or at every piece
    # without whole-word masking. A non-start piece continues the word before it, even across a [SEP].
    candidates = np.flatnonzero(~is_special)
    word_starts = starts[candidates] if cfg.do_whole_word_mask else np.ones(len(candidates), dtype=bool)
    if len(candidates):
        word_starts[0] = True
    bounds = [*np.flatnonzero(word_starts).tolist(), len(candidates)]

    num_to_predict = min(cfg.max_predictions_per_seq, max(1, int(round(len(input_ids) * cfg.masked_lm_prob))))
    output = list(input_ids)
    masked: list[tuple[int, int]] = []
    random_draw, mask_id = rng.random, special.mask
    for positions in choose_ngram_spans(candidates.tolist(), bounds, num_to_predict, cfg, rng):
        for p in positions:
            if random_draw() < 0.8:
                output[p] = mask_id
            elif random_draw() < 0.5:
                pass  # keep the original token
            else:
                output[p] = rng.randrange(special.vocab_size)
            masked.append((p, input_ids[p]))
    masked.sort()
    return Instance(
        input_ids=output,
        segment_ids=segment_ids,
        token_boundary=token_boundary,
        masked_lm_positions=[p for p, _ in masked],
        masked_lm_ids=[t for _, t in masked],
        is_random_next=is_random_next,
    )


@functools.lru_cache(maxsize=None)
def _ngram_cumulative(ngram: int, favor_shorter: bool) -> list[float]:
    """Cumulative ``ngram_probabilities`` as floats, made once: bisect on them is searchsorted's answer."""
    return np.cumsum(ngram_probabilities(ngram, favor_shorter)).tolist()


def choose_ngram_spans(
    positions: list[int], bounds: list[int], num_to_predict: int, cfg: MaskingConfig, rng: random.Random
) -> list[list[int]]:
    """Token positions of each chosen n-gram (n whole words), at most ``num_to_predict`` positions in all.

    Word ``w`` is ``positions[bounds[w]:bounds[w + 1]]``. Start words are visited in random order; n is
    drawn from ``ngram_probabilities``; when the n-gram would overflow the budget, shorter ones are tried
    (Google's fallback); overlaps are skipped.
    """
    cumulative = _ngram_cumulative(cfg.ngram, cfg.favor_shorter_ngram)
    total, ngram = cumulative[-1], cfg.ngram
    num_words = len(bounds) - 1
    starts = shuffled_range(num_words, rng)
    spans: list[list[int]] = []
    covered = bytearray(len(positions))  # by index into positions: an n-gram is one slice of them
    budget = num_to_predict
    for w in starts:
        if budget <= 0:
            break
        n = min(bisect.bisect_right(cumulative, rng.random() * total) + 1, ngram)
        first = bounds[w]
        last = bounds[min(w + n, num_words)]
        while n > 1 and last - first > budget:
            n -= 1
            last = bounds[min(w + n, num_words)]
        if last - first > budget or any(covered[first:last]):
            continue
        covered[first:last] = b"\x01" * (last - first)
        spans.append(positions[first:last])
        budget -= last - first
    return spans
