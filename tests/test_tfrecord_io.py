import random

import numpy as np
import pytest

from conftest import REPO
from datamodules.common.errors import UserInputError
from datamodules.pretraining.datamodule import PretrainingRecords
from datamodules.pretraining.instances import Instance
from datamodules.pretraining.tfrecord_io import (
    FLOAT_FEATURES,
    INT_FEATURES,
    CorruptRecordError,
    instance_to_example,
    parse_example,
    read_record,
    record_offsets,
    stored_real_lengths,
    write_tfrecord,
)


def random_instances(n=25, seq=32, preds=5, seed=0):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        length = rng.randint(5, seq)
        positions = sorted(rng.sample(range(1, length), min(preds, length - 1)))
        out.append(Instance(
            input_ids=[rng.randrange(1, 500) for _ in range(length)],
            segment_ids=[0] * (length // 2) + [1] * (length - length // 2),
            token_boundary=[rng.randint(0, 1) for _ in range(length)],
            masked_lm_positions=positions, masked_lm_ids=[rng.randrange(1, 500) for _ in positions],
            is_random_next=rng.random() < 0.5))
    return out


def test_round_trip_field_by_field(tmp_path):
    instances = random_instances()
    path = str(tmp_path / "x.tfrecord")
    assert write_tfrecord(path, (instance_to_example(i, 32, 5) for i in instances)) == len(instances)
    offsets = record_offsets(path)
    assert len(offsets) == len(instances)
    with open(path, "rb") as f:
        for inst, (offset, length) in zip(instances, offsets):
            ex = parse_example(read_record(f, path, int(offset), int(length)), INT_FEATURES + FLOAT_FEATURES)
            n, p = len(inst.input_ids), len(inst.masked_lm_positions)
            assert ex["input_ids"].tolist() == inst.input_ids + [0] * (32 - n)
            assert ex["input_mask"].tolist() == [1] * n + [0] * (32 - n)
            assert ex["segment_ids"].tolist() == inst.segment_ids + [0] * (32 - n)
            assert ex["token_boundary"].tolist() == inst.token_boundary + [0] * (32 - n)
            assert ex["masked_lm_positions"].tolist() == inst.masked_lm_positions + [0] * (5 - p)
            assert ex["masked_lm_ids"].tolist() == inst.masked_lm_ids + [0] * (5 - p)
            assert ex["masked_lm_weights"].tolist() == [1.0] * p + [0.0] * (5 - p)
            assert ex["masked_lm_weights"].dtype == np.float32
            assert ex["next_sentence_labels"].tolist() == [int(inst.is_random_next)]


def test_index_file_matches_a_scan(tmp_path):
    path = str(tmp_path / "x.tfrecord")
    write_tfrecord(path, (instance_to_example(i, 32, 5) for i in random_instances()))
    from_index = record_offsets(path)
    (tmp_path / "x.tfrecord.index").unlink()
    assert np.array_equal(from_index, record_offsets(path))


def test_lengths_sidecar_holds_each_records_real_length_and_is_ignored_when_stale(tmp_path):
    instances = random_instances()
    path = str(tmp_path / "x.tfrecord")
    write_tfrecord(path, (instance_to_example(i, 32, 5) for i in instances), [len(i.input_ids) for i in instances])
    assert (tmp_path / "x.tfrecord.lengths").stat().st_size == 2 * len(instances)  # uint16 each
    assert stored_real_lengths(path, len(instances)).tolist() == [len(i.input_ids) for i in instances]
    assert stored_real_lengths(path, len(instances) + 1) is None  # not this file's records
    write_tfrecord(path, (instance_to_example(i, 32, 5) for i in instances[:3]))  # rewritten without lengths
    assert stored_real_lengths(path, 3) is None  # the old sidecar is older than the data
    with pytest.raises(ValueError, match="2 real lengths for 3 records"):
        write_tfrecord(str(tmp_path / "y.tfrecord"), (instance_to_example(i, 32, 5) for i in instances[:3]), [5, 6])


def test_same_instance_same_bytes_in_another_process(tmp_path):
    """Protobuf's map order differs between processes; the bytes (and so a seed's files) must not."""
    import subprocess
    import sys
    instance = Instance([2, 7, 4, 3, 9, 3], [0, 0, 0, 0, 1, 1], [1, 1, 1, 1, 1, 1], [2], [8], True)
    code = ("import sys; from datamodules.pretraining.instances import Instance; "
            "from datamodules.pretraining.tfrecord_io import instance_to_example; "
            f"sys.stdout.buffer.write(instance_to_example({instance!r}, 8, 2))")  # a dataclass repr is its source
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, cwd=REPO).stdout
    assert other == instance_to_example(instance, 8, 2)


def test_reads_the_seed_file_written_by_googles_script(shared_data):
    records = PretrainingRecords([str(shared_data / "seed_toy" / "restaurant_review_train")])
    assert len(records) == 40
    first = records.example(0)
    assert first["input_ids"].shape == (512,) and first["masked_lm_ids"].shape == (20,)
    assert first["masked_lm_positions"][:4].tolist() == [3, 4, 5, 12]
    labels = [int(records.example(i)["next_sentence_labels"][0]) for i in range(40)]
    assert labels.count(0) == 22 and labels.count(1) == 18


def test_corrupt_record_names_file_and_offset(tmp_path):
    path = tmp_path / "x.tfrecord"
    write_tfrecord(str(path), (instance_to_example(i, 32, 5) for i in random_instances()))
    offsets = record_offsets(str(path))
    data = bytearray(path.read_bytes())
    third = int(offsets[2, 0])
    data[third + 20] ^= 0xFF  # inside the third record's payload
    path.write_bytes(bytes(data))
    records = PretrainingRecords([str(path)])
    records.example(1)
    with pytest.raises(CorruptRecordError, match=f"{path}: corrupt TFRecord at byte offset {third}: data CRC"):
        records.example(2)


def test_truncated_file_is_reported_before_training(tmp_path):
    path = tmp_path / "x.tfrecord"
    write_tfrecord(str(path), (instance_to_example(i, 32, 5) for i in random_instances()))
    last = int(record_offsets(str(path))[-1, 0])
    (tmp_path / "x.tfrecord.index").unlink()
    path.write_bytes(path.read_bytes()[:-7])  # a job killed while writing
    with pytest.raises(UserInputError, match=f"byte offset {last}: truncated record"):
        PretrainingRecords([str(path)])


def test_not_a_tfrecord(tmp_path):
    path = tmp_path / "x.tfrecord"
    path.write_text("this is text, not records\n" * 10)
    with pytest.raises(UserInputError, match="byte offset 0: length CRC mismatch"):
        PretrainingRecords([str(path)])


def test_truncated_tail_is_skipped_and_counted_on_request(tmp_path):
    path = tmp_path / "x.tfrecord"
    write_tfrecord(str(path), (instance_to_example(i, 32, 5) for i in random_instances(10)))
    (tmp_path / "x.tfrecord.index").unlink()
    path.write_bytes(path.read_bytes()[:-7])
    with pytest.warns(UserWarning, match=r"skipped 1 truncated record at byte offset \d+ .* 9 records remain"):
        records = PretrainingRecords([str(path)], skip_corrupt=True)
    assert len(records) == 9 and records.example(8)["input_ids"].shape == (32,)
