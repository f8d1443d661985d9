import random
from collections import Counter

import numpy as np
import pytest

from datamodules.pretraining.instances import (
    MaskingConfig,
    SpecialIds,
    choose_ngram_spans,
    create_instances_from_document,
    ngram_probabilities,
)

SPECIAL = SpecialIds(cls=2, sep=3, mask=4, vocab_size=1000)
ALL_WORD_STARTS = np.ones(1000, dtype=bool)


def synthetic_documents(n_docs=200, seed=0):
    """Documents of 2-8 sentences of 5-20 distinct ids (>= 10, so never special)."""
    rng = random.Random(seed)
    return [[[rng.randrange(10, 1000) for _ in range(rng.randint(5, 20))] for _ in range(rng.randint(2, 8))]
            for _ in range(n_docs)]


def make_instances(docs, cfg, seed=1, starts=ALL_WORD_STARTS):
    rng = random.Random(seed)
    return [inst for d in range(len(docs))
            for inst in create_instances_from_document(docs, d, cfg, SPECIAL, starts, rng)]


def test_instance_layout_and_sentence_order_labels():
    docs = synthetic_documents()
    cfg = MaskingConfig(max_seq_length=64, max_predictions_per_seq=10)
    instances = make_instances(docs, cfg)
    for inst in instances:
        ids, seg = inst.input_ids, inst.segment_ids
        assert len(ids) <= 64 and len(ids) == len(seg)
        assert ids[0] == SPECIAL.cls and ids[-1] == SPECIAL.sep and ids.count(SPECIAL.sep) == 2
        first_sep = ids.index(SPECIAL.sep)
        assert seg == [0] * (first_sep + 1) + [1] * (len(ids) - first_sep - 1)
        assert inst.masked_lm_positions == sorted(inst.masked_lm_positions)
        assert not {0, first_sep, len(ids) - 1} & set(inst.masked_lm_positions)  # never [CLS]/[SEP]
    share = np.mean([inst.is_random_next for inst in instances])
    assert 0.45 < share < 0.65, share  # swaps are 50/50; one-segment chunks (random B) add some 1s


def test_swapped_pairs_are_labelled_1_and_in_order_pairs_0():
    """A two-sentence document: label 0 means A before B in the document, 1 means swapped."""
    first, second = list(range(100, 110)), list(range(200, 210))
    docs = [[first, second], [[500 + i for i in range(10)]]]
    cfg = MaskingConfig(max_seq_length=64, masked_lm_prob=0.01, max_predictions_per_seq=1, short_seq_prob=0.0)
    labels = Counter()
    for seed in range(200):
        inst = create_instances_from_document(docs, 0, cfg, SPECIAL, ALL_WORD_STARTS, random.Random(seed))[0]
        original = list(inst.input_ids)
        for p, t in zip(inst.masked_lm_positions, inst.masked_lm_ids):
            original[p] = t
        a = original[1:original.index(SPECIAL.sep)]
        labels[inst.is_random_next] += 1
        assert a == (second if inst.is_random_next else first)
    assert labels[True] > 60 and labels[False] > 60


def test_masking_rate_and_80_10_10_replacement():
    docs = synthetic_documents(400)
    cfg = MaskingConfig(max_seq_length=128, max_predictions_per_seq=20)
    instances = make_instances(docs, cfg)
    tokens = sum(len(i.input_ids) for i in instances)
    masked = sum(len(i.masked_lm_positions) for i in instances)
    assert 0.14 < masked / tokens < 0.16
    outcome = Counter()
    for inst in instances:
        for p, original in zip(inst.masked_lm_positions, inst.masked_lm_ids):
            now = inst.input_ids[p]
            outcome["mask" if now == SPECIAL.mask else "keep" if now == original else "random"] += 1
    total = sum(outcome.values())
    assert abs(outcome["mask"] / total - 0.8) < 0.02
    assert abs(outcome["keep"] / total - 0.1) < 0.015
    assert abs(outcome["random"] / total - 0.1) < 0.015


def test_ngram_lengths_follow_one_over_n():
    cfg = MaskingConfig(ngram=3)
    rng = random.Random(0)
    counts = Counter()
    # 2000 one-piece words: long sequence, large budget: overlaps and budget cut-offs are rare
    positions, bounds = list(range(2000)), list(range(2001))
    for _ in range(500):
        for span in choose_ngram_spans(positions, bounds, 100, cfg, rng):
            counts[len(span)] += 1
    total = sum(counts.values())
    observed = np.array([counts[n] / total for n in (1, 2, 3)])
    assert np.allclose(ngram_probabilities(3), [6 / 11, 3 / 11, 2 / 11])
    # Overlap skips and the budget fallback (an overflowing n-gram becomes shorter) favour short n slightly.
    assert np.abs(observed - ngram_probabilities(3)).max() < 0.015, observed


def test_whole_word_masking_never_splits_a_word():
    docs = synthetic_documents(200)
    starts = np.ones(1000, dtype=bool)
    starts[500:] = False  # ids >= 500 continue the previous word
    cfg = MaskingConfig(max_seq_length=64, max_predictions_per_seq=10)
    for inst in make_instances(docs, cfg, starts=starts):
        original = list(inst.input_ids)
        for p, t in zip(inst.masked_lm_positions, inst.masked_lm_ids):
            original[p] = t
        masked = set(inst.masked_lm_positions)
        for p in masked:
            if original[p] >= 500 and p > 0 and original[p - 1] not in (SPECIAL.cls, SPECIAL.sep):
                assert p - 1 in masked  # a continuation piece is masked only with its word start
        assert inst.token_boundary[0] == 1


@pytest.mark.parametrize("seed", [1, 2])
def test_same_seed_same_instances(seed):
    docs = synthetic_documents(50)
    cfg = MaskingConfig(max_seq_length=64)
    a, b = make_instances(docs, cfg, seed), make_instances(docs, cfg, seed)
    assert a == b and a != make_instances(docs, cfg, seed + 10)
