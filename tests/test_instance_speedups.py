"""The fast paths of making pretraining data give exactly what the plain ones gave (same seed, same bytes)."""
import hashlib
import random
import unicodedata

import numpy as np
import pytest
from tfrecord import example_pb2
from tfrecord.writer import TFRecordWriter

from datamodules.pretraining import example_wire
from datamodules.pretraining.instances import Instance, MaskingConfig, SpecialIds, create_instances_from_document
from datamodules.pretraining.random_draws import shuffled_range
from datamodules.pretraining.tfrecord_io import instance_to_example, masked_crc
from datamodules.text.tokenization import preprocess_text


@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 8, 9, 100, 1025])
def test_shuffled_range_draws_what_rng_shuffle_draws(n):
    for seed in range(10):
        ours, theirs = random.Random(seed), random.Random(seed)
        expected = list(range(n))
        theirs.shuffle(expected)
        assert shuffled_range(n, ours) == expected
        assert ours.getstate() == theirs.getstate()


def _instances_digest(cfg: MaskingConfig, special_ids_in_text: bool) -> str:
    rng = random.Random(7)
    starts = np.array([rng.random() < 0.6 for _ in range(1000)])
    low = 2 if special_ids_in_text else 10
    docs = [[[rng.randrange(low, 1000) for _ in range(rng.randint(1, 30))] for _ in range(rng.randint(1, 8))]
            for _ in range(150)]
    special = SpecialIds(cls=2, sep=3, mask=4, vocab_size=1000)
    out = [create_instances_from_document(docs, d, cfg, special, starts, rng) for _ in range(2) for d in range(150)]
    return hashlib.sha256(repr(out).encode()).hexdigest()[:16]


@pytest.mark.parametrize("cfg, special_ids_in_text, digest", [
    (MaskingConfig(max_seq_length=64, max_predictions_per_seq=10), False, "99475cf558ac4efd"),
    (MaskingConfig(max_seq_length=48, max_predictions_per_seq=7, masked_lm_prob=0.2, short_seq_prob=0.5, ngram=2,
                   favor_shorter_ngram=False, do_whole_word_mask=False), True, "99cc5fa967d683dd"),
    (MaskingConfig(max_seq_length=128, max_predictions_per_seq=20, ngram=4), True, "b006d5545fd9d1ab"),
])
def test_same_instances_as_before_the_speedups(cfg, special_ids_in_text, digest):
    """Digests of what the per-token loops made (before vectorised word grouping and the inlined shuffle)."""
    assert _instances_digest(cfg, special_ids_in_text) == digest


def _protobuf_example(instance: Instance, max_seq_length: int, max_predictions_per_seq: int) -> bytes:
    """What instance_to_example wrote with protobuf's classes."""
    def pad(values, length, fill=0):
        return values + [fill] * (length - len(values))

    def ints(values):
        return example_pb2.Feature(int64_list=example_pb2.Int64List(value=values))

    n, p = len(instance.input_ids), len(instance.masked_lm_positions)
    feature = {
        "input_ids": ints(pad(instance.input_ids, max_seq_length)),
        "input_mask": ints(pad([1] * n, max_seq_length)),
        "segment_ids": ints(pad(instance.segment_ids, max_seq_length)),
        "token_boundary": ints(pad(instance.token_boundary, max_seq_length)),
        "masked_lm_positions": ints(pad(instance.masked_lm_positions, max_predictions_per_seq)),
        "masked_lm_ids": ints(pad(instance.masked_lm_ids, max_predictions_per_seq)),
        "masked_lm_weights": example_pb2.Feature(
            float_list=example_pb2.FloatList(value=pad([1.0] * p, max_predictions_per_seq, 0.0))),
        "next_sentence_labels": ints([int(instance.is_random_next)]),
    }
    return example_pb2.Example(features=example_pb2.Features(feature=feature)).SerializeToString(deterministic=True)


def test_example_bytes_are_protobufs():
    rng = random.Random(0)
    for _ in range(300):
        seq, preds = rng.choice([(8, 1), (128, 20), (512, 80)])
        n = rng.randint(5, seq)
        p = rng.randint(0, min(preds, n))
        top = rng.choice([100, 30000, 1 << 20, 1 << 40])  # 1 to 6 varint bytes
        instance = Instance(
            input_ids=[rng.randrange(top) for _ in range(n)], segment_ids=[int(i > n // 2) for i in range(n)],
            token_boundary=[rng.randint(0, 1) for _ in range(n)], masked_lm_positions=sorted(rng.sample(range(n), p)),
            masked_lm_ids=[rng.randrange(top) for _ in range(p)], is_random_next=rng.random() < 0.5)
        assert instance_to_example(instance, seq, preds) == _protobuf_example(instance, seq, preds)


def test_empty_lists_are_left_out_as_protobuf_leaves_them():
    ours = example_wire.example({"a": example_wire.int64_entry("a", []), "b": example_wire.float_entry("b", [])})
    theirs = example_pb2.Example(features=example_pb2.Features(feature={
        "a": example_pb2.Feature(int64_list=example_pb2.Int64List()),
        "b": example_pb2.Feature(float_list=example_pb2.FloatList())})).SerializeToString(deterministic=True)
    assert ours == theirs


def test_masked_crc_is_the_tfrecord_packages():
    rng = random.Random(0)
    for size in (0, 1, 8, 100, 5000):
        data = rng.randbytes(size)
        assert masked_crc(data) == TFRecordWriter.masked_crc(data)


def test_ascii_text_skips_accent_stripping_with_the_same_result():
    def every_character_stripped(text, lower):  # preprocess_text without the ASCII shortcut
        text = " ".join(text.strip().split()).replace("``", '"').replace("''", '"')
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
        return text.lower() if lower else text

    for text in ["  Caf\u00e9  ``good''  PASTA ", "  Plain ``ASCII''  text\t", "\uff21\u2460 ok", ""]:
        for lower in (True, False):
            assert preprocess_text(text, lower) == every_character_stripped(text, lower)
